#include "vrp/engine/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "engine_book.hpp"
#include "vrp/quant/forward.hpp"
#include "vrp/quant/implied_vol.hpp"
#include "vrp/quant/model_free.hpp"
#include "vrp/quant/surface.hpp"
#include "vrp/quant/svi.hpp"

namespace vrp::engine {

using detail::expiry_state;
using detail::option_slot;
using detail::tenor_cache;
using detail::underlying_state;

namespace detail {

std::string expiry_label(std::int64_t expiry_ms) {
  static constexpr const char* months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                           "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  // Days since 1970-01-01 to a civil date (H. Hinnant, "chrono-compatible low-level date
  // algorithms", civil_from_days).
  std::int64_t days = expiry_ms / 86'400'000;
  if (expiry_ms % 86'400'000 < 0) --days;
  const std::int64_t z = days + 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const std::int64_t doe = z - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  std::string out = std::to_string(d);
  out += months[m - 1];
  const std::int64_t yy = ((y % 100) + 100) % 100;
  if (yy < 10) out += '0';
  out += std::to_string(yy);
  return out;
}

}  // namespace detail

namespace {

constexpr std::int64_t ns_per_day = 86'400'000'000'000;

// Vol-width floor and fallback of the fit weights (decimal vol): weight = 1 / width^2, with the
// width floored at 1 vol point so that one very tight quote cannot own the fit, and 10 vol points
// when one side has no IV (the mark is used but only loosely).
constexpr double min_width_vol = 0.01;
constexpr double missing_width_vol = 0.10;

bool positive(double x) {
  return std::isfinite(x) && x > 0;
}

double clean_price(double x) {
  return positive(x) ? x : nan;
}

char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool same_currency(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

quant::option_type type_of(core::option_right r) {
  return r == core::option_right::put ? quant::option_type::put : quant::option_type::call;
}

enum class id_kind : std::uint8_t { unresolved, ignored, option, index, perpetual };

struct id_entry {
  id_kind kind = id_kind::unresolved;
  std::int32_t underlying = -1;
  std::int32_t slot = -1;
};

// Static reasons of tenor_row::reason.
constexpr std::string_view reason_no_surface = "no_surface";
constexpr std::string_view reason_stale_data = "stale_data";
constexpr std::string_view reason_surface_error = "surface_error";
constexpr std::string_view reason_no_index = "no_index";
constexpr std::string_view reason_no_forecast = "no_forecast";
constexpr std::string_view reason_no_mfiv = "no_mfiv";
constexpr std::string_view reason_too_far = "too_far_from_expiries";

}  // namespace

struct engine::impl {
  engine_config config;
  const core::instrument_table& instruments;
  std::vector<std::unique_ptr<underlying_state>> underlyings;
  std::vector<id_entry> ids;
  std::vector<option_slot> book;
  engine_stats stats;
  std::int64_t now_ns = 0;
  std::int64_t newest_recv_ns = 0;  // newest local receive time applied, any underlying
  std::vector<quant::surface_slice> slices_scratch;  // fill_tenors, kept to reuse its capacity
  std::uint64_t seq = 0;
  std::shared_ptr<const snapshot> latest;
  struct due_fit {
    expiry_state* e;
    std::size_t underlying;
  };
  std::vector<due_fit> due;  // scratch of do_publish (grows to the number of expiries once)

  // Scratch of the fits, sized to the largest expiry seen (grown on first sight only).
  std::vector<double> fit_strikes, fit_ivs, fit_weights;
  std::vector<quant::mf_quote> mf_quotes;
  std::vector<quant::parity_quote> parity;
  quant::mf_workspace mf_ws;
  std::size_t largest_expiry = 0;

  impl(const engine_config& c, const core::instrument_table& table)
      : config(c), instruments(table) {
    if (config.underlyings.empty()) throw std::invalid_argument("engine: no underlyings");
    for (const auto& name : config.underlyings) {
      if (name.empty() || name.size() > core::instrument_info::max_currency)
        throw std::invalid_argument("engine: bad underlying name '" + name + "'");
    }
    for (int d : config.tenor_days)
      if (d <= 0) throw std::invalid_argument("engine: tenor_days must be positive");
    if (config.refit_interval_ns < 0 || config.stale_quote_ns <= 0 || config.min_expiry_ns < 0)
      throw std::invalid_argument("engine: negative interval");
    if (config.min_quotes_per_expiry < 5)
      throw std::invalid_argument("engine: min_quotes_per_expiry must be at least 5 (SVI)");
    if (config.max_refits_per_publish < 1)
      throw std::invalid_argument("engine: max_refits_per_publish must be at least 1");
    if (!(config.max_extrapolation_ratio >= 1.0) || !std::isfinite(config.max_extrapolation_ratio))
      throw std::invalid_argument("engine: max_extrapolation_ratio must be a number >= 1");
    for (const auto& name : config.underlyings) {
      auto u = std::make_unique<underlying_state>();
      for (char ch : name) u->name += upper(ch);
      u->fc = std::make_unique<forecaster>(config.forecast);
      underlyings.push_back(std::move(u));
    }
    ids.resize(std::min<std::size_t>(instruments.capacity(), 4'096));
    book.reserve(4'096);
    reserve_scratch(256);
  }

  void reserve_scratch(std::size_t n) {
    if (n <= largest_expiry) return;
    largest_expiry = std::max(n, 2 * largest_expiry);
    fit_strikes.reserve(largest_expiry);
    fit_ivs.reserve(largest_expiry);
    fit_weights.reserve(largest_expiry);
    mf_quotes.reserve(largest_expiry);
    parity.reserve(largest_expiry);
    mf_ws.reserve(largest_expiry);
  }

  int find_underlying(std::string_view name) const {
    for (std::size_t i = 0; i < underlyings.size(); ++i)
      if (same_currency(underlyings[i]->name, name)) return static_cast<int>(i);
    return -1;
  }

  // ---- instrument resolution (first sight only allocates) ----

  const id_entry* resolve(core::instrument_id id) {
    if (id == core::no_instrument || !instruments.contains(id)) return nullptr;
    if (id >= ids.size()) {
      const std::size_t want = std::max<std::size_t>(id + 1, 2 * ids.size());
      ids.resize(std::min(want, instruments.capacity()));
    }
    id_entry& e = ids[id];
    if (e.kind != id_kind::unresolved) return &e;
    const core::instrument_info& info = instruments.at(id);
    const int u = find_underlying(info.underlying_view());
    e.kind = id_kind::ignored;
    if (u < 0) return &e;
    e.underlying = u;
    switch (info.kind) {
      case core::instrument_kind::option:
        // One chain per underlying: options quoted in another currency (Deribit's linear
        // BTC_USDC-...) would put a second chain into the same expiries.
        if (same_currency(info.quote_view(), "USD") && positive(info.strike) &&
            info.expiry_ms > 0 && info.expiry_ms < 9'000'000'000'000 &&
            info.right != core::option_right::none) {
          e.slot = add_option(u, id, info);
          e.kind = id_kind::option;
        }
        break;
      case core::instrument_kind::index:
        e.kind = id_kind::index;
        break;
      case core::instrument_kind::perpetual:
        e.kind = id_kind::perpetual;
        break;
      default:
        break;
    }
    return &e;
  }

  int add_option(int u, core::instrument_id id, const core::instrument_info& info) {
    underlying_state& us = *underlyings[static_cast<std::size_t>(u)];
    auto it = std::lower_bound(
        us.expiries.begin(), us.expiries.end(), info.expiry_ms,
        [](const std::unique_ptr<expiry_state>& x, std::int64_t ms) { return x->expiry_ms < ms; });
    if (it == us.expiries.end() || (*it)->expiry_ms != info.expiry_ms) {
      auto e = std::make_unique<expiry_state>();
      e->underlying = u;
      e->expiry_ms = info.expiry_ms;
      e->label = detail::expiry_label(info.expiry_ms);
      it = us.expiries.insert(it, std::move(e));
    }
    expiry_state& ex = **it;
    const int slot = static_cast<int>(book.size());
    option_slot s;
    s.id = id;
    s.strike = info.strike;
    s.right = info.right;
    s.underlying = u;
    s.expiry = &ex;
    book.push_back(s);
    // Ascending strike, calls before puts at one strike.
    auto before = [this](int a, int b) {
      const option_slot& x = book[static_cast<std::size_t>(a)];
      const option_slot& y = book[static_cast<std::size_t>(b)];
      if (x.strike != y.strike) return x.strike < y.strike;
      return x.right == core::option_right::call && y.right != core::option_right::call;
    };
    ex.slots.insert(std::upper_bound(ex.slots.begin(), ex.slots.end(), slot, before), slot);
    ++us.options;
    reserve_scratch(ex.slots.size());
    return slot;
  }

  // ---- event handlers ----

  void advance(underlying_state& u, std::int64_t ts_ns, std::int64_t recv_ns) {
    if (ts_ns > now_ns) now_ns = ts_ns;
    if (ts_ns > u.now_ns) u.now_ns = ts_ns;
    if (recv_ns > u.recv_ns) u.recv_ns = recv_ns;
    if (recv_ns > newest_recv_ns) newest_recv_ns = recv_ns;
    if (u.stale) {  // data is back
      u.stale = false;
      u.changed = true;
    }
  }

  // Prices-only status and IVs of one slot (Let's Be Rational, Black-76 on the quote's forward,
  // discount 1, t from the quote's own timestamp).
  void evaluate(option_slot& s) {
    s.bid_iv = s.ask_iv = s.mark_iv = s.mid_iv = nan;
    const bool has_bid = std::isfinite(s.bid_usd);
    const bool has_ask = std::isfinite(s.ask_usd);
    const bool has_mark = std::isfinite(s.mark_usd);
    if (!has_bid && !has_ask && !has_mark) {
      s.price_status = quote_status::no_quote;
      return;
    }
    if (has_bid && has_ask && s.bid_usd > s.ask_usd) {
      s.price_status = quote_status::crossed;
      return;
    }
    const expiry_state& e = *s.expiry;
    const double forward = positive(s.forward_usd) ? s.forward_usd : e.forward;
    const double t = detail::years_to_expiry(s.ts_ns, e.expiry_ms);
    s.waiting_forward = !positive(forward);
    if (!positive(forward) || !(t > 0)) {
      // Past expiry is decided at the refit (expired ranks after the price problems).
      s.price_status = has_bid ? (positive(forward) ? quote_status::ok : quote_status::no_forward)
                               : quote_status::zero_bid;
      return;
    }
    const quant::option_type type = type_of(s.right);
    bool below = false, above = false, failed = false;
    auto invert = [&](double price) {
      if (!std::isfinite(price)) return nan;
      const quant::iv_result r = quant::implied_vol_black76(price, forward, s.strike, t, type);
      if (r.code == quant::status::ok && std::isfinite(r.vol)) return r.vol;
      below |= r.code == quant::status::below_intrinsic;
      above |= r.code == quant::status::above_maximum;
      failed = true;
      return nan;
    };
    s.bid_iv = invert(s.bid_usd);
    s.ask_iv = invert(s.ask_usd);
    s.mark_iv = invert(s.mark_usd);
    if (config.fit_on == fit_source::mid && has_bid && has_ask)
      s.mid_iv = invert(0.5 * (s.bid_usd + s.ask_usd));
    if (failed) ++stats.iv_failures;
    if (!has_bid)
      s.price_status = quote_status::zero_bid;
    else if (below)
      s.price_status = quote_status::below_intrinsic;
    else if (above)
      s.price_status = quote_status::above_maximum;
    else if (failed)
      s.price_status = quote_status::no_convergence;
    else
      s.price_status = quote_status::ok;
  }

  void reject(event_reject r) { ++stats.rejected[static_cast<std::size_t>(r)]; }

  // The event's own time: positive, and not ahead of its local receive time by more than the
  // configured skew (recv_ns 0: no local time to compare with). Counts the reject.
  bool admit(std::int64_t ts_ns, std::int64_t recv_ns) {
    if (ts_ns <= 0) {
      reject(event_reject::bad_timestamp);
      return false;
    }
    if (recv_ns > 0 && ts_ns - recv_ns > config.max_clock_ahead_ns) {
      reject(event_reject::future_timestamp);
      return false;
    }
    return true;
  }

  // A price field is absent (NaN), zero (no bid) or a positive finite number.
  static bool valid_price(double x) { return std::isnan(x) || (x >= 0.0 && std::isfinite(x)); }

  static bool same_price(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

  void on_quote(const core::option_quote& q) {
    ++stats.quotes;
    const id_entry* entry = resolve(q.id);
    if (!entry || entry->kind != id_kind::option) {
      ++stats.quotes_ignored;
      reject(event_reject::unknown_instrument);
      return;
    }
    option_slot& s = book[static_cast<std::size_t>(entry->slot)];
    if (!admit(q.ts_ns, q.recv_ns)) {
      ++stats.quotes_ignored;
      return;
    }
    if (!valid_price(q.bid_price) || !valid_price(q.ask_price) || !valid_price(q.mark_price) ||
        !valid_price(q.underlying_price)) {
      ++stats.quotes_ignored;
      reject(event_reject::bad_price);
      return;
    }
    // An older quote than the one held (reordering upstream) is dropped, and so is a repeat.
    if (q.ts_ns < s.ts_ns) {
      ++stats.quotes_ignored;
      reject(event_reject::out_of_order);
      return;
    }
    if (s.seen && q.ts_ns == s.ts_ns && (q.flags & core::quote_mark_only) == 0 &&
        same_price(clean_price(q.bid_price), s.bid_usd) &&
        same_price(clean_price(q.ask_price), s.ask_usd) &&
        same_price(clean_price(q.mark_price), s.mark_usd)) {
      ++stats.quotes_ignored;
      reject(event_reject::duplicate);
      return;
    }
    underlying_state& u = *underlyings[static_cast<std::size_t>(s.underlying)];
    expiry_state& e = *s.expiry;
    advance(u, q.ts_ns, q.recv_ns);
    if ((q.flags & core::quote_mark_only) == 0) {
      s.bid_usd = clean_price(q.bid_price);
      s.ask_usd = clean_price(q.ask_price);
      s.mark_usd = clean_price(q.mark_price);
      s.venue_mark_iv = std::isfinite(q.venue_mark_iv) ? q.venue_mark_iv : nan;
    } else {
      if (std::isfinite(q.mark_price)) s.mark_usd = clean_price(q.mark_price);
      if (std::isfinite(q.venue_mark_iv)) s.venue_mark_iv = q.venue_mark_iv;
    }
    if (positive(q.underlying_price)) {
      s.forward_usd = q.underlying_price;
      if (q.ts_ns >= e.venue_forward_ts_ns) {
        e.venue_forward = q.underlying_price;
        e.venue_forward_ts_ns = q.ts_ns;
      }
    }
    if ((q.flags & core::quote_settled) != 0) s.settled = true;
    s.ts_ns = q.ts_ns;
    s.seen = true;
    evaluate(s);
    if (s.price_status != quote_status::ok)
      ++stats.unusable[static_cast<std::size_t>(s.price_status)];
    e.dirty = true;
    if (q.ts_ns > e.newest_quote_ns) e.newest_quote_ns = q.ts_ns;
  }

  // A non-quote event's underlying: an instrument of `kind`, an admissible time, a positive
  // finite `value` (skipped when `check_value` is false), and not older than the underlying's
  // `last` time of this kind (when given). nullptr after counting the reject.
  underlying_state* event_underlying(core::instrument_id id, id_kind kind, std::int64_t ts_ns,
                                     std::int64_t recv_ns, bool check_value, double value,
                                     std::int64_t underlying_state::*last = nullptr) {
    const id_entry* entry = resolve(id);
    if (!entry || entry->kind != kind) {
      ++stats.events_ignored;
      reject(event_reject::unknown_instrument);
      return nullptr;
    }
    if (!admit(ts_ns, recv_ns)) {
      ++stats.events_ignored;
      return nullptr;
    }
    if (check_value && (!positive(value) || !std::isfinite(value))) {
      ++stats.events_ignored;
      reject(event_reject::bad_price);
      return nullptr;
    }
    underlying_state& u = *underlyings[static_cast<std::size_t>(entry->underlying)];
    if (last != nullptr && ts_ns < u.*last) {
      ++stats.events_ignored;
      reject(event_reject::out_of_order);
      return nullptr;
    }
    return &u;
  }

  void on_index(const core::index_tick& t) {
    ++stats.index_ticks;
    underlying_state* up = event_underlying(t.id, id_kind::index, t.ts_ns, t.recv_ns, true, t.price,
                                            &underlying_state::index_ts_ns);
    if (up == nullptr) return;
    underlying_state& u = *up;
    advance(u, t.ts_ns, t.recv_ns);
    u.index_price = t.price;
    u.index_ts_ns = t.ts_ns;
    u.changed = true;
    if (u.fc->on_price(t.ts_ns, t.price)) {
      ++stats.bars_closed;
      u.forecast_dirty = true;
    }
  }

  void on_funding(const core::funding_tick& t) {
    ++stats.funding_ticks;
    underlying_state* up = event_underlying(t.id, id_kind::perpetual, t.ts_ns, t.recv_ns, false,
                                            0.0, &underlying_state::funding_ts_ns);
    if (up == nullptr) return;
    underlying_state& u = *up;
    advance(u, t.ts_ns, t.recv_ns);
    // Deribit's funding_8h is the rate paid over the last 8 hours: three periods a day, 365 days
    // a year, simple (not compounded) annualization.
    if (std::isfinite(t.funding_8h)) u.funding_annual = t.funding_8h * 3.0 * 365.0;
    if (positive(t.mark_price) && positive(t.index_price))
      u.perp_basis = t.mark_price / t.index_price - 1.0;
    u.funding_ts_ns = t.ts_ns;
    u.changed = true;
  }

  void on_dvol(const core::dvol_tick& t) {
    ++stats.dvol_ticks;
    underlying_state* up = event_underlying(t.id, id_kind::index, t.ts_ns, t.recv_ns, true, t.vol);
    if (up == nullptr) return;
    underlying_state& u = *up;
    advance(u, t.ts_ns, t.recv_ns);
    u.dvol = t.vol;
    u.changed = true;
  }

  void on_chain(const core::chain_event& c) {
    ++stats.chain_events;
    if (c.id == core::no_instrument) return;  // venue-wide: nothing in the book changes
    const id_entry* entry = resolve(c.id);
    if (!entry || entry->kind != id_kind::option) {
      ++stats.events_ignored;
      return;
    }
    option_slot& s = book[static_cast<std::size_t>(entry->slot)];
    // Chain events carry the feed's local clock (when discovery saw the change), not the venue's:
    // only market data moves the engine's clock, so a replay of another day stays in its day.
    if (c.change == core::chain_change::expired) {
      s.settled = true;
      s.expiry->dirty = true;
    } else if (c.change == core::chain_change::listed) {
      if (s.settled) s.expiry->dirty = true;
      s.settled = false;
    }
  }

  // ---- refits (publish time) ----

  quote_status effective_status(const option_slot& s, std::int64_t now) const {
    switch (s.price_status) {
      case quote_status::ok:
      case quote_status::no_convergence:
        break;
      default:
        return s.price_status;
    }
    if (now - s.ts_ns > config.stale_quote_ns) return quote_status::stale;
    if (s.settled || s.expiry->expiry_ms * detail::ns_per_ms <= now) return quote_status::expired;
    return s.price_status;
  }

  bool fresh(const option_slot& s, std::int64_t now) const {
    return s.seen && !s.settled && now - s.ts_ns <= config.stale_quote_ns;
  }

  // Forward of the refit: the newest venue underlying_price, else put-call parity on the mids of
  // fresh quotes (quant::forward_from_parity, discount 1).
  void choose_forward(expiry_state& e, std::int64_t now) {
    if (positive(e.venue_forward)) {
      e.forward = e.venue_forward;
      e.forward_from = forward_source::venue_underlying;
      return;
    }
    parity.clear();
    const auto& slots = e.slots;
    for (std::size_t i = 0; i + 1 < slots.size(); ++i) {
      const option_slot& c = book[static_cast<std::size_t>(slots[i])];
      const option_slot& p = book[static_cast<std::size_t>(slots[i + 1])];
      if (c.right != core::option_right::call || p.right != core::option_right::put ||
          c.strike != p.strike || !fresh(c, now) || !fresh(p, now))
        continue;
      if (!positive(c.bid_usd) || !positive(c.ask_usd) || !positive(p.bid_usd) ||
          !positive(p.ask_usd) || c.bid_usd > c.ask_usd || p.bid_usd > p.ask_usd)
        continue;
      parity.push_back({c.strike, 0.5 * (c.bid_usd + c.ask_usd), 0.5 * (p.bid_usd + p.ask_usd)});
    }
    const quant::forward_result r = quant::forward_from_parity(parity);
    if (r.code == quant::status::ok && positive(r.forward)) {
      e.forward = r.forward;
      e.forward_from = forward_source::parity;
    } else {
      e.forward = nan;
      e.forward_from = forward_source::none;
    }
  }

  void refit(underlying_state& u, expiry_state& e) {
    const std::int64_t now = u.now_ns;
    const double t = detail::years_to_expiry(now, e.expiry_ms);
    e.dirty = false;
    e.attempted = true;
    e.last_fit_ns = now;
    choose_forward(e, now);
    const double forward = e.forward;

    // Quotes that waited for a forward get their IVs now.
    for (int idx : e.slots) {
      option_slot& s = book[static_cast<std::size_t>(idx)];
      if (s.seen && s.waiting_forward && positive(forward)) evaluate(s);
    }

    auto view = std::make_shared<expiry_view>();
    e.pending_view = view;
    view->label = e.label;
    view->expiry_ms = e.expiry_ms;
    view->t_years = t;
    view->forward = forward;
    view->forward_from = e.forward_from;
    view->fitted_at_ns = now;
    view->quotes.reserve(e.slots.size());
    int usable = 0;
    for (int idx : e.slots) {
      const option_slot& s = book[static_cast<std::size_t>(idx)];
      if (!s.seen) continue;
      quote_view q;
      q.id = s.id;
      q.strike = s.strike;
      q.right = s.right;
      q.bid_usd = s.bid_usd;
      q.ask_usd = s.ask_usd;
      q.mark_usd = s.mark_usd;
      q.bid_iv = s.bid_iv;
      q.ask_iv = s.ask_iv;
      q.mark_iv = s.mark_iv;
      q.venue_mark_iv = s.venue_mark_iv;
      q.ts_ns = s.ts_ns;
      q.status = effective_status(s, now);
      if (q.status == quote_status::ok) ++usable;
      view->quotes.push_back(q);
    }
    e.usable = usable;

    const bool too_close = static_cast<double>(e.expiry_ms * detail::ns_per_ms - now) <
                           static_cast<double>(config.min_expiry_ns);
    e.fitted = false;
    e.mf_variance = nan;
    view->fit_status = quant::status::insufficient_data;
    if (too_close) {
      view->fit_reason = "too_close_to_expiry";
    } else if (!positive(forward)) {
      view->fit_reason = "no_forward";
    } else {
      fit_smile(e, *view, t, forward, now);
      model_free(e, *view, t, forward, now);
    }
    if (!e.fitted) e.calendar_free = false;
    view->calendar_free = e.calendar_free;
  }

  void fit_smile(expiry_state& e, expiry_view& view, double t, double forward, std::int64_t now) {
    fit_strikes.clear();
    fit_ivs.clear();
    fit_weights.clear();
    for (int idx : e.slots) {
      const option_slot& s = book[static_cast<std::size_t>(idx)];
      // Out of the money only: puts below the forward, calls at or above it.
      const bool otm =
          s.right == core::option_right::put ? s.strike < forward : s.strike >= forward;
      if (!otm || !s.seen || effective_status(s, now) != quote_status::ok) continue;
      const double iv = config.fit_on == fit_source::mark ? s.mark_iv : s.mid_iv;
      if (!positive(iv)) continue;
      const double width = std::isfinite(s.bid_iv) && std::isfinite(s.ask_iv)
                               ? std::max(s.ask_iv - s.bid_iv, min_width_vol)
                               : missing_width_vol;
      fit_strikes.push_back(s.strike);
      fit_ivs.push_back(iv);
      fit_weights.push_back(1.0 / (width * width));
    }
    // One point per strike (the OTM side), so the count is the number of distinct strikes.
    if (static_cast<int>(fit_strikes.size()) < config.min_quotes_per_expiry) {
      view.fit_reason = "too_few_quotes";
      return;
    }
    e.k_min = std::log(fit_strikes.front() / forward);
    e.k_max = std::log(fit_strikes.back() / forward);
    quant::svi_fit_options options;
    options.reject_outliers = config.reject_outliers;
    const quant::svi_params* warm = e.has_params ? &e.params : nullptr;
    const quant::svi_fit_result r =
        quant::svi_fit(t, forward, fit_strikes, fit_ivs, fit_weights, warm, options);
    view.fit_status = r.code;
    view.points_used = r.points_used;
    view.points_rejected = r.points_rejected;
    if (r.code == quant::status::insufficient_data) {
      // E.g. every usable strike on one side of the forward while a chain is still arriving.
      view.fit_reason = "too_few_quotes";
      return;
    }
    ++stats.smile_fits;
    if (r.code != quant::status::ok) {
      ++stats.smile_fit_failures;
      view.fit_reason = "fit_failed";
      return;
    }
    e.fitted = true;
    e.has_params = true;
    e.params = r.params;
    e.t_fit_years = t;
    stats.last_fit_rmse_vol = r.rmse_vol;
    view.fitted = true;
    view.fit_reason = "";
    view.svi = r.params;
    view.rmse_vol = r.rmse_vol;
    view.butterfly_free = r.butterfly_free;
  }

  // Cboe model-free variance of this expiry on the USD bid/ask of the fresh quotes, rate 0, the
  // refit's forward (quant::model_free_variance). A missing side is 0 (Cboe: zero bid).
  void model_free(expiry_state& e, expiry_view& view, double t, double forward, std::int64_t now) {
    mf_quotes.clear();
    for (int idx : e.slots) {
      const option_slot& s = book[static_cast<std::size_t>(idx)];
      if (!fresh(s, now)) continue;
      const double bid = std::isfinite(s.bid_usd) ? s.bid_usd : 0.0;
      const double ask = std::isfinite(s.ask_usd) ? s.ask_usd : 0.0;
      if (bid == 0.0 && ask == 0.0) continue;
      mf_quotes.push_back({s.strike, type_of(s.right), bid, ask});
    }
    quant::mf_input in{t, 0.0, mf_quotes, forward};
    const quant::mf_result r = quant::model_free_variance(in, mf_ws);
    view.mfiv_status = r.code;
    if (r.code == quant::status::ok && r.variance > 0) {
      e.mf_variance = r.variance;
      view.mfiv = std::sqrt(r.variance);
    }
  }

  // calendar_free of each fitted expiry against the previous fitted one, on the intersection of
  // their quoted log-moneyness ranges (outside the quotes the SVI wings are extrapolation, and
  // flagging their crossings would flag nothing real). Views whose flag changed are copied.
  void update_calendar(underlying_state& u) {
    const expiry_state* prev = nullptr;
    for (auto& ep : u.expiries) {
      expiry_state& e = *ep;
      if (!e.fitted) continue;
      bool free = true;
      if (!prev) e.calendar_checked = false;
      if (prev) {
        const double lo = std::max(prev->k_min, e.k_min);
        const double hi = std::min(prev->k_max, e.k_max);
        if (hi > lo) {
          const bool same =
              e.calendar_checked && same_params(e.calendar_prev, prev->params) &&
              same_params(e.calendar_self, e.params) && e.calendar_t[0] == prev->t_fit_years &&
              e.calendar_t[1] == e.t_fit_years && e.calendar_lo == lo && e.calendar_hi == hi;
          if (same) {
            free = e.calendar_result;
          } else {
            const quant::svi_params slices[2] = {prev->params, e.params};
            const double ts[2] = {prev->t_fit_years, e.t_fit_years};
            const auto r = quant::svi_calendar_check(slices, ts, lo, hi);
            free = r.code == quant::status::ok && r.calendar_free;
            e.calendar_checked = true;
            e.calendar_result = free;
            e.calendar_prev = prev->params;
            e.calendar_self = e.params;
            e.calendar_t[0] = prev->t_fit_years;
            e.calendar_t[1] = e.t_fit_years;
            e.calendar_lo = lo;
            e.calendar_hi = hi;
          }
        } else {
          e.calendar_checked = false;
        }
      }
      e.calendar_free = free;
      if (e.pending_view) {
        e.pending_view->calendar_free = free;
      } else if (e.view && e.view->calendar_free != free) {
        auto copy = std::make_shared<expiry_view>(*e.view);
        copy->calendar_free = free;
        e.view = std::move(copy);
      }
      prev = &e;
    }
    for (auto& ep : u.expiries) {
      if (ep->pending_view) ep->view = std::move(ep->pending_view);
      ep->pending_view.reset();
    }
  }

  // ---- grid ----

  static bool same_params(const quant::svi_params& a, const quant::svi_params& b) {
    return a.a == b.a && a.b == b.b && a.rho == b.rho && a.m == b.m && a.sigma == b.sigma;
  }

  // The expiries with a model-free variance that bracket tenor t (either may be missing).
  struct mf_bracket {
    const expiry_state* below = nullptr;
    const expiry_state* above = nullptr;
  };
  static mf_bracket mf_bracket_at(const underlying_state& u, double t) {
    mf_bracket b;
    for (const auto& ep : u.expiries) {
      const expiry_state& e = *ep;
      if (!positive(e.mf_variance) || !e.view) continue;
      const double te = e.view->t_years;
      if (!(te > 0)) continue;
      if (te <= t) b.below = &e;
      if (te >= t && !b.above) b.above = &e;
    }
    return b;
  }

  // Model-free vol at tenor t: total variance linear in time between the bracketing expiries,
  // flat vol outside (Cboe VIX white paper, step 3, with the target at t).
  static double mfiv_at(const mf_bracket& b, double t, bool& extrapolated) {
    const expiry_state* below = b.below;
    const expiry_state* above = b.above;
    if (!below && !above) return nan;
    if (below && above && below != above) {
      const double t1 = below->view->t_years, t2 = above->view->t_years;
      const double w1 = below->mf_variance * t1, w2 = above->mf_variance * t2;
      const double w = w1 + (t - t1) / (t2 - t1) * (w2 - w1);
      return w > 0 ? std::sqrt(w / t) : nan;
    }
    const expiry_state* edge = below ? below : above;
    if (edge->view->t_years != t) extrapolated = true;
    return std::sqrt(edge->mf_variance);
  }

  // ask IV - bid IV of the quote nearest `strike` in log distance (the OTM side wins a tie) in
  // the fitted expiry nearest the tenor. |ln(K/S)| orders strikes as max(K/S, S/K) does, which
  // costs a division instead of a logarithm.
  static double width_near(const expiry_view* view, double strike) {
    if (!view || !positive(strike)) return nan;
    double best = nan;
    double best_dist = 0;
    bool best_otm = false;
    for (const quote_view& q : view->quotes) {
      if (!std::isfinite(q.bid_iv) || !std::isfinite(q.ask_iv)) continue;
      const double ratio = q.strike / strike;
      const double dist = ratio >= 1.0 ? ratio : strike / q.strike;
      const bool otm =
          q.right == core::option_right::put ? q.strike < view->forward : q.strike >= view->forward;
      if (std::isnan(best) || dist < best_dist || (dist == best_dist && otm && !best_otm)) {
        best = q.ask_iv - q.bid_iv;
        best_dist = dist;
        best_otm = otm;
      }
    }
    return best;
  }

  // The surface-dependent part of tenor t's row, reused from the cache when its inputs did not
  // change (see tenor_cache).
  const tenor_cache& tenor_surface(underlying_state& u, std::size_t i, double t,
                                   const quant::vol_surface& surface, bool surface_ok) {
    tenor_cache& c = u.tenor_rows[i];
    // The slices the surface reads at t: the pair around it, or the edge pair (forward carry).
    std::size_t count = 0;
    quant::surface_slice window[2];
    if (surface_ok) {
      const auto sl = surface.slices();
      if (sl.size() == 1) {
        window[0] = sl[0];
        count = 1;
      } else {
        auto it = std::upper_bound(sl.begin(), sl.end(), t,
                                   [](double x, const auto& s) { return x < s.t_years; });
        const std::size_t hi =
            std::clamp<std::size_t>(static_cast<std::size_t>(it - sl.begin()), 1, sl.size() - 1);
        window[0] = sl[hi - 1];
        window[1] = sl[hi];
        count = 2;
      }
    }
    const mf_bracket mf = mf_bracket_at(u, t);
    // The fitted expiry nearest the tenor, for the bucket widths.
    std::shared_ptr<const expiry_view> nearest;
    if (surface_ok) {
      double nearest_dist = 0;
      for (const auto& ep : u.expiries) {
        if (!ep->fitted || !ep->view) continue;
        const double d = std::fabs(ep->t_fit_years - t);
        if (!nearest || d < nearest_dist) {
          nearest = ep->view;
          nearest_dist = d;
        }
      }
    }
    auto same_slice = [](const quant::surface_slice& a, const quant::surface_slice& b) {
      return a.t_years == b.t_years && a.forward == b.forward && a.params.a == b.params.a &&
             a.params.b == b.params.b && a.params.rho == b.params.rho && a.params.m == b.params.m &&
             a.params.sigma == b.params.sigma;
    };
    const bool mf_same = mf.below != nullptr && mf.below == mf.above;
    bool hit = config.incremental_surface && c.valid && c.surface_ok == surface_ok &&
               c.slice_count == count && c.nearest == nearest &&
               c.mf_below == (mf.below != nullptr) && c.mf_above == (mf.above != nullptr) &&
               c.mf_same == mf_same;
    for (std::size_t k = 0; hit && k < count; ++k) hit = same_slice(c.window[k], window[k]);
    if (hit && mf.below) {
      hit = c.mf_w_below == mf.below->mf_variance && c.mf_t_below == mf.below->view->t_years;
    }
    if (hit && mf.above) {
      hit = c.mf_w_above == mf.above->mf_variance && c.mf_t_above == mf.above->view->t_years;
    }
    if (hit) return c;

    c = tenor_cache{};
    c.valid = true;
    c.surface_ok = surface_ok;
    c.slice_count = count;
    for (std::size_t k = 0; k < count; ++k) c.window[k] = window[k];
    c.mf_below = mf.below != nullptr;
    c.mf_above = mf.above != nullptr;
    c.mf_same = mf_same;
    if (mf.below) {
      c.mf_w_below = mf.below->mf_variance;
      c.mf_t_below = mf.below->view->t_years;
    }
    if (mf.above) {
      c.mf_w_above = mf.above->mf_variance;
      c.mf_t_above = mf.above->view->t_years;
    }
    c.nearest = nearest;
    c.mfiv = mfiv_at(mf, t, c.mf_extrapolated);
    if (surface_ok) {
      c.forward = surface.forward(t);
      c.smile = surface.smile_at(t);
      c.atm = surface.implied_vol(t, 0.0);
      const quant::delta_vol* cells[bucket_count] = {&c.smile.put10, &c.smile.put25, &c.smile.atm,
                                                     &c.smile.call25, &c.smile.call10};
      for (std::size_t b = 0; b < bucket_count; ++b) {
        if (cells[b]->code == quant::status::ok)
          c.width[b] = width_near(nearest.get(), cells[b]->strike);
      }
    }
    return c;
  }

  void fill_tenors(underlying_state& u, underlying_snapshot& out) {
    slices_scratch.clear();
    for (const auto& ep : u.expiries)
      if (ep->fitted) slices_scratch.push_back({ep->t_fit_years, ep->forward, ep->params});
    quant::vol_surface surface;
    const bool have_slices = !slices_scratch.empty();
    const bool surface_ok = have_slices && surface.build(slices_scratch) == quant::status::ok;
    // The fitted expiries' time range, widened by the extrapolation limit.
    double t_near = std::numeric_limits<double>::infinity();
    double t_far = 0.0;
    for (const auto& sl : slices_scratch) {
      t_near = std::min(t_near, sl.t_years);
      t_far = std::max(t_far, sl.t_years);
    }
    t_near /= config.max_extrapolation_ratio;
    t_far *= config.max_extrapolation_ratio;
    const bool forecast_ready = u.fc->ready();
    const bool have_index = positive(u.index_price);
    if (u.tenor_rows.size() != config.tenor_days.size()) {
      u.tenor_rows.assign(config.tenor_days.size(), tenor_cache{});
    }

    out.tenors.clear();
    out.tenors.reserve(config.tenor_days.size());
    for (std::size_t i = 0; i < config.tenor_days.size(); ++i) {
      const int days = config.tenor_days[i];
      tenor_row row;
      row.days = days;
      row.t_years = static_cast<double>(days) / 365.0;
      const double t = row.t_years;
      row.rv_forecast = forecast_ready ? u.fc->rv_forecast(static_cast<double>(days)) : nan;
      // No number from data that stopped, nor from a smile too far away to say anything (only the
      // forecast, which needs no smile): the surface is not evaluated for such a tenor.
      const bool too_far = surface_ok && (t < t_near || t > t_far);
      if (u.stale || too_far) {
        row.reason = u.stale ? reason_stale_data : reason_too_far;
        row.extrapolated = !u.stale;
        if (u.stale) row.rv_forecast = nan;
        out.tenors.push_back(row);
        continue;
      }
      const tenor_cache& c = tenor_surface(u, i, t, surface, surface_ok);
      bool extrapolated = c.mf_extrapolated;
      row.mfiv = c.mfiv;
      if (surface_ok) {
        row.forward = c.forward;
        if (have_index && positive(row.forward))
          row.basis_annual = std::log(row.forward / u.index_price) / t;
        const quant::delta_smile& smile = c.smile;
        extrapolated = extrapolated || smile.extrapolated;
        const quant::delta_vol* cells[bucket_count] = {&smile.put10, &smile.put25, &smile.atm,
                                                       &smile.call25, &smile.call10};
        for (std::size_t b = 0; b < bucket_count; ++b) {
          const quant::delta_vol& dv = *cells[b];
          if (dv.code != quant::status::ok) continue;
          bucket_cell& cell = row.buckets[b];
          cell.iv = dv.vol;
          cell.strike = dv.strike;
          cell.premium_vol = cell.iv - row.rv_forecast;
          cell.width_vol = c.width[b];
        }
        if (c.atm.code == quant::status::ok) row.atm_iv = c.atm.vol;
        if (smile.call25.code == quant::status::ok && smile.put25.code == quant::status::ok) {
          row.rr25 = smile.rr25;
          if (smile.atm.code == quant::status::ok) row.bf25 = smile.bf25;
        }
      }
      row.extrapolated = extrapolated;
      row.premium_vol = row.atm_iv - row.rv_forecast;
      row.premium_var = row.mfiv * row.mfiv - row.rv_forecast * row.rv_forecast;

      if (!have_slices)
        row.reason = reason_no_surface;
      else if (!surface_ok)
        row.reason = reason_surface_error;
      else if (!have_index)
        row.reason = reason_no_index;
      else if (!forecast_ready)
        row.reason = reason_no_forecast;
      else if (!std::isfinite(row.mfiv))
        row.reason = reason_no_mfiv;
      else
        row.reason = "";
      bool numbers = std::isfinite(row.forward) && std::isfinite(row.basis_annual) &&
                     std::isfinite(row.atm_iv) && std::isfinite(row.mfiv) &&
                     std::isfinite(row.rv_forecast) && std::isfinite(row.premium_vol) &&
                     std::isfinite(row.premium_var) && std::isfinite(row.rr25) &&
                     std::isfinite(row.bf25);
      for (const bucket_cell& cell : row.buckets)
        numbers = numbers && std::isfinite(cell.iv) && std::isfinite(cell.premium_vol) &&
                  std::isfinite(cell.strike) && std::isfinite(cell.width_vol);
      row.available = row.reason.empty() && numbers;
      if (row.reason.empty() && !numbers) row.reason = reason_surface_error;
      out.tenors.push_back(row);
    }
  }

  std::shared_ptr<const underlying_snapshot> build_underlying(underlying_state& u) {
    auto out = std::make_shared<underlying_snapshot>();
    out->underlying = u.name;
    out->seq = ++u.seq;
    out->ts_ns = u.now_ns;
    out->recv_ns = newest_recv_ns;
    out->data_recv_ns = u.recv_ns;
    out->stale = u.stale;
    out->index_price = u.index_price;
    out->index_ts_ns = u.index_ts_ns;
    out->dvol = u.dvol;
    out->funding_annual = u.funding_annual;
    out->perp_basis = u.perp_basis;
    out->funding_ts_ns = u.funding_ts_ns;
    int fitted = 0;
    int usable = 0;
    for (const auto& ep : u.expiries) {
      if (!ep->view || ep->expiry_ms * detail::ns_per_ms <= u.now_ns) continue;
      out->expiries.push_back(ep->view);
      fitted += ep->fitted ? 1 : 0;
      usable += ep->usable;
    }
    fill_tenors(u, *out);
    out->forecast = u.forecast;
    out->quotes_total = u.options;
    out->quotes_usable = usable;
    out->complete = positive(u.index_price) && fitted > 0 && u.fc->ready();
    return out;
  }

  std::shared_ptr<const snapshot> do_publish(bool force) {
    // Due expiries: changed (or aged) and not fitted within the refit interval.
    due.clear();
    for (std::size_t ui = 0; ui < underlyings.size(); ++ui) {
      underlying_state& u = *underlyings[ui];
      for (auto& ep : u.expiries) {
        expiry_state& e = *ep;
        // A fitted expiry whose quotes went stale or whose time ran out is refitted (and drops
        // out) even without new quotes.
        const bool aged = (e.fitted || positive(e.mf_variance)) &&
                          (u.now_ns - e.newest_quote_ns > config.stale_quote_ns ||
                           static_cast<double>(e.expiry_ms * detail::ns_per_ms - u.now_ns) <
                               static_cast<double>(config.min_expiry_ns));
        if (!e.dirty && !aged) continue;
        if (!force && e.attempted && u.now_ns - e.last_fit_ns < config.refit_interval_ns) continue;
        due.push_back({&e, ui});
      }
    }
    std::size_t budget = due.size();
    if (!force) {
      budget = std::min(budget, static_cast<std::size_t>(config.max_refits_per_publish));
      // Longest-waiting first; ties by expiry then underlying, so the order is deterministic.
      std::partial_sort(due.begin(), due.begin() + static_cast<std::ptrdiff_t>(budget), due.end(),
                        [](const due_fit& a, const due_fit& b) {
                          if (a.e->last_fit_ns != b.e->last_fit_ns)
                            return a.e->last_fit_ns < b.e->last_fit_ns;
                          if (a.e->expiry_ms != b.e->expiry_ms)
                            return a.e->expiry_ms < b.e->expiry_ms;
                          return a.underlying < b.underlying;
                        });
    }
    for (std::size_t i = 0; i < budget; ++i) {
      underlying_state& u = *underlyings[due[i].underlying];
      refit(u, *due[i].e);
      u.refitted = true;
    }
    bool any = false;
    for (auto& up : underlyings) {
      underlying_state& u = *up;
      if (u.refitted) {
        update_calendar(u);
        u.changed = true;
        u.refitted = false;
      }
      if (u.forecast_dirty) {
        auto fv = std::make_shared<forecast_view>();
        u.fc->fill_view(*fv, config.tenor_days);
        u.forecast = std::move(fv);
        u.forecast_dirty = false;
        u.changed = true;
      }
      if (u.changed || !u.snap) {
        u.snap = build_underlying(u);
        u.changed = false;
        any = true;
      }
    }
    if (!any) return nullptr;
    ++stats.snapshots;
    auto snap = std::make_shared<snapshot>();
    snap->seq = ++seq;
    snap->ts_ns = now_ns;
    snap->underlyings.reserve(underlyings.size());
    for (const auto& up : underlyings) snap->underlyings.push_back(up->snap);
    snap->stats = stats;
    latest = snap;
    return snap;
  }
};

engine::engine(const engine_config& config, const core::instrument_table& instruments)
    : impl_(std::make_unique<impl>(config, instruments)) {}

engine::~engine() {
  wait_idle();
}

quant::status engine::warm_up(std::string_view underlying, std::span<const history_bar> bars) {
  const int u = impl_->find_underlying(underlying);
  if (u < 0) return quant::status::invalid_input;
  underlying_state& us = *impl_->underlyings[static_cast<std::size_t>(u)];
  const quant::status s = us.fc->warm_up(bars);
  us.forecast_dirty = true;
  us.changed = true;
  return s;
}

bool engine::export_forecaster_state(std::string_view underlying, forecaster_state& out) const {
  const int u = impl_->find_underlying(underlying);
  if (u < 0) return false;
  out = impl_->underlyings[static_cast<std::size_t>(u)]->fc->export_state();
  return true;
}

std::string engine::restore_forecaster_state(std::string_view underlying,
                                             const forecaster_state& s) {
  const int u = impl_->find_underlying(underlying);
  if (u < 0) return "unknown underlying '" + std::string(underlying) + "'";
  underlying_state& us = *impl_->underlyings[static_cast<std::size_t>(u)];
  std::string error = us.fc->restore_state(s);
  if (error.empty()) {
    us.forecast_dirty = true;
    us.changed = true;
  }
  return error;
}

std::size_t engine::catch_up(std::string_view underlying, std::span<const history_bar> bars) {
  const int u = impl_->find_underlying(underlying);
  if (u < 0) return 0;
  underlying_state& us = *impl_->underlyings[static_cast<std::size_t>(u)];
  const std::size_t closed = us.fc->catch_up(bars);
  us.forecast_dirty = true;
  us.changed = true;
  return closed;
}

void engine::on_clock(std::int64_t wall_ns) {
  const std::int64_t timeout = impl_->config.data_timeout_ns;
  for (auto& up : impl_->underlyings) {
    underlying_state& u = *up;
    const bool stale = timeout > 0 && u.recv_ns > 0 && wall_ns - u.recv_ns > timeout;
    if (stale != u.stale) {
      u.stale = stale;
      u.changed = true;
    }
  }
}

void engine::on_event(const core::event& e) noexcept {
  ++impl_->stats.events;
  try {
    std::visit(
        [this](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, core::option_quote>)
            impl_->on_quote(x);
          else if constexpr (std::is_same_v<T, core::index_tick>)
            impl_->on_index(x);
          else if constexpr (std::is_same_v<T, core::funding_tick>)
            impl_->on_funding(x);
          else if constexpr (std::is_same_v<T, core::dvol_tick>)
            impl_->on_dvol(x);
          else if constexpr (std::is_same_v<T, core::chain_event>)
            impl_->on_chain(x);
          // trades: not used by the premium
        },
        e);
  } catch (...) {
    // Only a first-sight allocation can throw (out of memory): the event is dropped and counted.
    ++impl_->stats.events_ignored;
  }
}

std::shared_ptr<const snapshot> engine::publish() {
  return impl_->do_publish(false);
}

std::shared_ptr<const snapshot> engine::flush() {
  return impl_->do_publish(true);
}

std::shared_ptr<const snapshot> engine::latest() const {
  return impl_->latest;
}

const engine_stats& engine::stats() const noexcept {
  return impl_->stats;
}

const engine_config& engine::config() const noexcept {
  return impl_->config;
}

void engine::wait_idle() {
  for (auto& u : impl_->underlyings) u->fc->wait_idle();
}

}  // namespace vrp::engine
