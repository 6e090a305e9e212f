#include "vrp/quant/svi.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace vrp::quant {

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
// |rho| stays strictly inside (-1, 1) so that a boundary fit is still admissible.
constexpr double rho_max = 0.999;
constexpr int min_distinct_strikes = 5;
constexpr double check_step_k = 0.01;

bool finite5(const svi_params& p) {
  return std::isfinite(p.a) && std::isfinite(p.b) && std::isfinite(p.rho) && std::isfinite(p.m) &&
         std::isfinite(p.sigma);
}

// ---------------------------------------------------------------------------------------------
// Inner problem of the quasi-explicit method (De Marco & Martini 2009): with y = (k - m)/sigma and
// z = sqrt(y^2 + 1), w = a + d y + c z is linear in x = (a, d, c). Minimise
// Q(x) = x' H x - 2 g' x + s0 (H = sum omega f f', g = sum omega w f, f = (1, y, z)) subject to
// A x >= lo, solved by a primal active-set method (Nocedal & Wright 2006, Alg. 16.3).
// ---------------------------------------------------------------------------------------------

constexpr int n_cons = 6;

struct inner_qp {
  std::array<std::array<double, 3>, 3> h{};
  std::array<double, 3> g{};
  std::array<std::array<double, 3>, n_cons> a{};
  std::array<double, n_cons> lo{};
};

void set_constraints(inner_qp& q, double sigma) {
  // rho_max c - d >= 0 and rho_max c + d >= 0: |rho| <= rho_max (implies b >= 0).
  q.a[0] = {0.0, -1.0, rho_max};
  q.lo[0] = 0.0;
  q.a[1] = {0.0, 1.0, rho_max};
  q.lo[1] = 0.0;
  // Lee (2004) moment bound b (1 + |rho|) <= 4, i.e. c + |d| <= 4 sigma.
  q.a[2] = {0.0, -1.0, -1.0};
  q.lo[2] = -4.0 * sigma;
  q.a[3] = {0.0, 1.0, -1.0};
  q.lo[3] = -4.0 * sigma;
  // min w = a + sqrt(c^2 - d^2) >= a + c - |d| >= 0: a linear sufficient condition for w >= 0.
  q.a[4] = {1.0, -1.0, 1.0};
  q.lo[4] = 0.0;
  q.a[5] = {1.0, 1.0, 1.0};
  q.lo[5] = 0.0;
}

// Solves the n x n system m x = rhs (n <= 6) by Gaussian elimination with partial pivoting.
bool solve_small(std::array<std::array<double, 7>, 6>& m, int n, std::array<double, 6>& x) {
  for (int col = 0; col < n; ++col) {
    int piv = col;
    for (int r = col + 1; r < n; ++r) {
      if (std::abs(m[r][col]) > std::abs(m[piv][col])) piv = r;
    }
    if (!(std::abs(m[piv][col]) > 1e-300)) return false;
    if (piv != col) std::swap(m[piv], m[col]);
    for (int r = col + 1; r < n; ++r) {
      const double f = m[r][col] / m[col][col];
      if (f == 0.0) continue;
      for (int c = col; c <= n; ++c) m[r][c] -= f * m[col][c];
    }
  }
  for (int r = n - 1; r >= 0; --r) {
    double s = m[r][n];
    for (int c = r + 1; c < n; ++c) s -= m[r][c] * x[c];
    x[r] = s / m[r][r];
  }
  for (int r = 0; r < n; ++r) {
    if (!std::isfinite(x[r])) return false;
  }
  return true;
}

double dot3(const std::array<double, 3>& u, const std::array<double, 3>& v) {
  return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}

bool feasible(const inner_qp& q, const std::array<double, 3>& x, double tol) {
  for (int i = 0; i < n_cons; ++i) {
    if (dot3(q.a[i], x) < q.lo[i] - tol) return false;
  }
  return true;
}

// The KKT system of Q with the constraints set[0..n_set) held as equalities,
// [H -A_S'; A_S 0] [x; mu] = [top; lo_S] (bottom 0 instead of lo_S for a `step` from a point on
// them). False when it is singular.
bool solve_kkt(const inner_qp& q, const int* set, int n_set, const std::array<double, 3>& top,
               bool step, std::array<double, 6>& sol) {
  const int n = 3 + n_set;
  std::array<std::array<double, 7>, 6> m{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) m[r][c] = q.h[r][c];
    for (int j = 0; j < n_set; ++j) m[r][3 + j] = -q.a[set[j]][r];
    m[r][n] = top[r];
  }
  for (int j = 0; j < n_set; ++j) {
    for (int c = 0; c < 3; ++c) m[3 + j][c] = q.a[set[j]][c];
    m[3 + j][n] = step ? 0.0 : q.lo[set[j]];
  }
  return solve_small(m, n, sol);
}

// The constraint sets a KKT point can have active: the 6 singles, 15 pairs and 20 triples of the
// 6 constraints (bit i = constraint i), smallest first.
constexpr std::array<std::uint8_t, 41> active_sets = [] {
  std::array<std::uint8_t, 41> sets{};
  int n = 0;
  for (int size = 1; size <= 3; ++size) {
    for (int mask = 1; mask < (1 << n_cons); ++mask) {
      if (std::popcount(static_cast<unsigned>(mask)) == size) {
        sets[static_cast<std::size_t>(n++)] = static_cast<std::uint8_t>(mask);
      }
    }
  }
  return sets;
}();

// The minimiser of Q with the constraints of `mask` held as equalities, if it is the minimiser
// of the whole problem: H x - A_S' mu = g and A_S x = lo_S solved together, then x feasible and
// mu >= 0 (sufficient for a convex QP, Nocedal & Wright 2006, Thm. 16.4).
bool kkt_optimal(const inner_qp& q, unsigned mask, double tol_x, double tol_mu,
                 std::array<double, 3>& x) {
  std::array<int, 3> set{};
  int n_set = 0;
  for (int i = 0; i < n_cons; ++i) {
    if ((mask >> i) & 1U) set[static_cast<std::size_t>(n_set++)] = i;
  }
  std::array<double, 6> sol{};
  if (!solve_kkt(q, set.data(), n_set, q.g, false, sol)) return false;
  for (int j = 0; j < n_set; ++j) {
    if (sol[3 + j] < -tol_mu) return false;
  }
  const std::array<double, 3> cand{sol[0], sol[1], sol[2]};
  if (!feasible(q, cand, tol_x)) return false;
  x = cand;
  return true;
}

// Returns an admissible x (feasible up to rounding). The unconstrained minimiser is tried first
// (on good data it is usually feasible), then the active set of the previous call (`hint`: the
// outer search moves in small steps, so it is usually still right), then every other set. The
// primal active-set iteration (Nocedal & Wright 2006, Alg. 16.3) is the fallback if rounding
// defeats all of them. `hint` is updated to the set of the result (0: none active).
std::array<double, 3> solve_inner(const inner_qp& q, const std::array<double, 3>& x_start,
                                  double scale, unsigned& hint) {
  {
    std::array<double, 6> sol{};
    if (solve_kkt(q, nullptr, 0, q.g, false, sol)) {
      const std::array<double, 3> x{sol[0], sol[1], sol[2]};
      if (feasible(q, x, 0.0)) {
        hint = 0;
        return x;
      }
    }
  }
  const double tol_x = 1e-12 * scale;
  const double tol_mu = 1e-12 * std::max({std::abs(q.g[0]), std::abs(q.g[1]), std::abs(q.g[2])});
  std::array<double, 3> x{};
  if (hint != 0 && kkt_optimal(q, hint, tol_x, tol_mu, x)) return x;
  for (const std::uint8_t mask : active_sets) {
    if (mask != hint && kkt_optimal(q, mask, tol_x, tol_mu, x)) {
      hint = mask;
      return x;
    }
  }
  hint = 0;
  x = x_start;
  std::array<int, 3> work{};
  int n_work = 0;
  for (int iter = 0; iter < 40; ++iter) {
    // The equality-constrained step: [H -A_W'; A_W 0] [p; mu] = [g - H x; 0].
    const std::array<double, 3> top{q.g[0] - dot3(q.h[0], x), q.g[1] - dot3(q.h[1], x),
                                    q.g[2] - dot3(q.h[2], x)};
    std::array<double, 6> sol{};
    if (!solve_kkt(q, work.data(), n_work, top, true, sol)) return x;
    const std::array<double, 3> p{sol[0], sol[1], sol[2]};
    const double p_norm = std::max({std::abs(p[0]), std::abs(p[1]), std::abs(p[2])});
    if (p_norm <= 1e-14 * scale) {
      int worst = -1;
      double worst_mu = -1e-14;
      for (int j = 0; j < n_work; ++j) {
        if (sol[3 + j] < worst_mu) {
          worst_mu = sol[3 + j];
          worst = j;
        }
      }
      if (worst < 0) return x;
      work[worst] = work[n_work - 1];
      --n_work;
      continue;
    }
    double alpha = 1.0;
    int blocking = -1;
    for (int i = 0; i < n_cons; ++i) {
      bool in_work = false;
      for (int j = 0; j < n_work; ++j) in_work = in_work || work[j] == i;
      if (in_work) continue;
      const double ap = dot3(q.a[i], p);
      if (ap < 0.0) {
        const double step = std::max(0.0, (q.lo[i] - dot3(q.a[i], x)) / ap);
        if (step < alpha) {
          alpha = step;
          blocking = i;
        }
      }
    }
    for (int c = 0; c < 3; ++c) x[c] += alpha * p[c];
    if (blocking >= 0 && n_work < 3) work[n_work++] = blocking;
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Data of one fit: log-moneyness, market total variance and weights in total-variance space,
// normalised so that the weights of the vol errors sum to one.
// ---------------------------------------------------------------------------------------------
struct fit_data {
  const double* k = nullptr;
  const double* w = nullptr;
  const double* omega = nullptr;
  double* y = nullptr;  // scratch
  double* z = nullptr;  // scratch
  int n = 0;
  double w_mean = 0;
  double s0 = 0;  // sum omega w^2: cost of the zero model, the scale of the objective
  double m_lo = 0, m_hi = 0, log_sigma_lo = 0, log_sigma_hi = 0;
  mutable unsigned active_hint = 0;  // scratch: the inner QP's last active set (solve_inner)
};

struct inner_eval {
  double cost = 0;
  double a = 0, d = 0, c = 0;
};

inner_eval evaluate_inner(const fit_data& fd, double m, double sigma) {
  inner_qp q;
  double s1 = 0, sy = 0, sz = 0, syy = 0, syz = 0, szz = 0, sw = 0, syw = 0, szw = 0;
  for (int i = 0; i < fd.n; ++i) {
    const double y = (fd.k[i] - m) / sigma;
    const double z = std::sqrt(y * y + 1.0);
    fd.y[i] = y;
    fd.z[i] = z;
    const double o = fd.omega[i];
    const double ow = o * fd.w[i];
    s1 += o;
    sy += o * y;
    sz += o * z;
    syy += o * y * y;
    syz += o * y * z;
    szz += o * z * z;
    sw += ow;
    syw += ow * y;
    szw += ow * z;
  }
  q.h = {{{s1, sy, sz}, {sy, syy, syz}, {sz, syz, szz}}};
  // A relative ridge keeps the 3x3 solvable when a and c are nearly collinear (large sigma).
  const double ridge = 1e-13 * (s1 + syy + szz);
  for (int r = 0; r < 3; ++r) q.h[r][r] += ridge;
  q.g = {sw, syw, szw};
  set_constraints(q, sigma);
  const std::array<double, 3> start{std::max(fd.w_mean, 0.0), 0.0, sigma};
  const double scale = std::max({fd.w_mean, sigma, 1e-12});
  const std::array<double, 3> x = solve_inner(q, start, scale, fd.active_hint);
  inner_eval out;
  out.a = x[0];
  out.d = x[1];
  out.c = x[2];
  // Residuals summed directly: the quadratic form cancels badly on near-exact data.
  double cost = 0;
  for (int i = 0; i < fd.n; ++i) {
    const double r = x[0] + x[1] * fd.y[i] + x[2] * fd.z[i] - fd.w[i];
    cost += fd.omega[i] * r * r;
  }
  out.cost = cost;
  return out;
}

// Outer objective over u = (m, ln sigma): the box is enforced by clamping plus a quadratic
// penalty, so Nelder–Mead never evaluates outside it.
double outer_objective(const fit_data& fd, const std::array<double, 2>& u) {
  const double m = std::clamp(u[0], fd.m_lo, fd.m_hi);
  const double ls = std::clamp(u[1], fd.log_sigma_lo, fd.log_sigma_hi);
  const double excess = (u[0] - m) * (u[0] - m) + (u[1] - ls) * (u[1] - ls);
  const double cost = evaluate_inner(fd, m, std::exp(ls)).cost;
  return std::isfinite(cost) ? cost + fd.s0 * excess : std::numeric_limits<double>::max();
}

struct nm_result {
  std::array<double, 2> u{};
  double f = 0;
  int iterations = 0;
  bool converged = false;
};

// Nelder & Mead (1965) simplex in 2-D with the standard coefficients (1, 2, 0.5, 0.5).
nm_result nelder_mead(const fit_data& fd, const std::array<double, 2>& u0,
                      const std::array<double, 2>& step, int max_iter, double xtol) {
  std::array<std::array<double, 2>, 3> v{u0, u0, u0};
  v[1][0] += step[0];
  v[2][1] += step[1];
  std::array<double, 3> f{};
  for (int i = 0; i < 3; ++i) f[i] = outer_objective(fd, v[i]);
  nm_result res;
  for (int iter = 0; iter < max_iter; ++iter) {
    // Order: best, middle, worst.
    std::array<int, 3> idx{0, 1, 2};
    std::sort(idx.begin(), idx.end(), [&](int i, int j) { return f[i] < f[j]; });
    v = {v[idx[0]], v[idx[1]], v[idx[2]]};
    f = {f[idx[0]], f[idx[1]], f[idx[2]]};
    res.iterations = iter;
    double diam = 0;
    for (int i = 1; i < 3; ++i) {
      diam = std::max({diam, std::abs(v[i][0] - v[0][0]), std::abs(v[i][1] - v[0][1])});
    }
    if (diam <= xtol || f[2] - f[0] <= 1e-15 * f[0]) {
      res.converged = true;
      break;
    }
    const std::array<double, 2> c{0.5 * (v[0][0] + v[1][0]), 0.5 * (v[0][1] + v[1][1])};
    const std::array<double, 2> r{2.0 * c[0] - v[2][0], 2.0 * c[1] - v[2][1]};
    const double fr = outer_objective(fd, r);
    if (fr < f[0]) {
      const std::array<double, 2> e{3.0 * c[0] - 2.0 * v[2][0], 3.0 * c[1] - 2.0 * v[2][1]};
      const double fe = outer_objective(fd, e);
      if (fe < fr) {
        v[2] = e;
        f[2] = fe;
      } else {
        v[2] = r;
        f[2] = fr;
      }
      continue;
    }
    if (fr < f[1]) {
      v[2] = r;
      f[2] = fr;
      continue;
    }
    // Contraction: outside if the reflection improved on the worst, inside otherwise.
    const bool outside = fr < f[2];
    const std::array<double, 2> ct =
        outside ? std::array<double, 2>{0.5 * (c[0] + r[0]), 0.5 * (c[1] + r[1])}
                : std::array<double, 2>{0.5 * (c[0] + v[2][0]), 0.5 * (c[1] + v[2][1])};
    const double fc = outer_objective(fd, ct);
    if (fc < (outside ? fr : f[2])) {
      v[2] = ct;
      f[2] = fc;
      continue;
    }
    for (int i = 1; i < 3; ++i) {
      v[i] = {0.5 * (v[0][0] + v[i][0]), 0.5 * (v[0][1] + v[i][1])};
      f[i] = outer_objective(fd, v[i]);
    }
  }
  int best = 0;
  for (int i = 1; i < 3; ++i) {
    if (f[i] < f[best]) best = i;
  }
  res.u = v[best];
  res.f = f[best];
  return res;
}

svi_fit_result fit_impl(double t_years, const fit_data& fd, const svi_params* warm_start,
                        const double* ivs_used, const double* vol_weights) {
  svi_fit_result out;
  out.points_used = fd.n;
  std::array<double, 2> u0{};
  std::array<double, 2> step{};
  int max_iter = 0;
  // m ranges over [k_min - span, k_max + span], so a third of its box is the data's k span.
  const double k_span = (fd.m_hi - fd.m_lo) / 3.0;
  const bool warm = warm_start != nullptr && svi_is_admissible(*warm_start);
  if (warm) {
    u0 = {std::clamp(warm_start->m, fd.m_lo, fd.m_hi),
          std::clamp(std::log(warm_start->sigma), fd.log_sigma_lo, fd.log_sigma_hi)};
    step = {0.02 * k_span, 0.1};
    max_iter = 300;
  } else {
    // Coarse grid over (m, sigma) picks the basin; Nelder–Mead polishes it.
    const double k_lo = fd.m_lo + k_span;
    double best = std::numeric_limits<double>::max();
    constexpr std::array<double, 6> sigma_frac{0.02, 0.05, 0.1, 0.2, 0.5, 1.0};
    for (int i = 0; i < 7; ++i) {
      const double m = k_lo + k_span * i / 6.0;
      for (double sf : sigma_frac) {
        const std::array<double, 2> u{
            m, std::clamp(std::log(sf * k_span), fd.log_sigma_lo, fd.log_sigma_hi)};
        const double f = outer_objective(fd, u);
        if (f < best) {
          best = f;
          u0 = u;
        }
      }
    }
    step = {0.1 * k_span, 0.5};
    max_iter = 600;
  }
  const nm_result nm = nelder_mead(fd, u0, step, max_iter, 1e-8);
  out.iterations = nm.iterations;
  const double m = std::clamp(nm.u[0], fd.m_lo, fd.m_hi);
  const double sigma = std::exp(std::clamp(nm.u[1], fd.log_sigma_lo, fd.log_sigma_hi));
  const inner_eval ie = evaluate_inner(fd, m, sigma);
  svi_params p;
  p.m = m;
  p.sigma = sigma;
  p.b = std::max(ie.c, 0.0) / sigma;
  p.rho = ie.c > 0.0 ? std::clamp(ie.d / ie.c, -rho_max, rho_max) : 0.0;
  // Rounding can leave min w a hair below zero; the constraint set guarantees it mathematically.
  p.a = std::max(ie.a, -p.b * p.sigma * std::sqrt(1.0 - p.rho * p.rho));
  out.params = p;
  if (!svi_is_admissible(p)) {
    out.code = status::degenerate;
    return out;
  }
  double sum_w = 0, sum_e2 = 0, max_e = 0;
  for (int i = 0; i < fd.n; ++i) {
    const double model_vol = std::sqrt(std::max(svi_total_variance(p, fd.k[i]), 0.0) / t_years);
    const double e = model_vol - ivs_used[i];
    sum_w += vol_weights[i];
    sum_e2 += vol_weights[i] * e * e;
    max_e = std::max(max_e, std::abs(e));
  }
  out.rmse_vol = std::sqrt(sum_e2 / sum_w);
  out.max_abs_error_vol = max_e;
  if (!std::isfinite(out.rmse_vol) || !std::isfinite(out.max_abs_error_vol)) {
    out.code = status::degenerate;
    return out;
  }
  const svi_check_result chk = svi_butterfly_check(p);
  out.butterfly_free = chk.butterfly_free;
  out.min_g = chk.min_g;
  out.argmin_k = chk.argmin_k;
  out.code = nm.converged ? status::ok : status::no_convergence;
  return out;
}

struct fit_arrays {
  double* k;
  double* w;
  double* omega;
  double* y;
  double* z;
  double* iv;
  double* vw;
};

// Checks the data can support a fit (>= 5 distinct strikes, points on both sides of the
// forward) and fills total variances, normalised weights and the (m, sigma) search box.
bool prepare(const fit_arrays& fa, int n, double t_years, fit_data& fd) {
  double k_min = std::numeric_limits<double>::max();
  double k_max = std::numeric_limits<double>::lowest();
  std::array<double, min_distinct_strikes> distinct{};
  int n_distinct = 0;
  double sum_vw = 0;
  for (int i = 0; i < n; ++i) {
    k_min = std::min(k_min, fa.k[i]);
    k_max = std::max(k_max, fa.k[i]);
    sum_vw += fa.vw[i];
    if (n_distinct < min_distinct_strikes &&
        std::none_of(distinct.begin(), distinct.begin() + n_distinct,
                     [&](double d) { return std::abs(d - fa.k[i]) <= 1e-12; })) {
      distinct[n_distinct++] = fa.k[i];
    }
  }
  if (n_distinct < min_distinct_strikes || !(k_min < 0.0) || !(k_max > 0.0) || !(sum_vw > 0.0)) {
    return false;
  }
  fd = fit_data{};
  fd.k = fa.k;
  fd.w = fa.w;
  fd.omega = fa.omega;
  fd.y = fa.y;
  fd.z = fa.z;
  fd.n = n;
  double w_sum = 0;
  for (int i = 0; i < n; ++i) {
    fa.vw[i] /= sum_vw;
    fa.w[i] = fa.iv[i] * fa.iv[i] * t_years;
    // d w = 2 vol t d vol, so a vol-space weight becomes weight / (2 vol t)^2 in w-space.
    const double dw_dvol = 2.0 * fa.iv[i] * t_years;
    fa.omega[i] = fa.vw[i] / (dw_dvol * dw_dvol);
    w_sum += fa.w[i];
    fd.s0 += fa.omega[i] * fa.w[i] * fa.w[i];
  }
  fd.w_mean = w_sum / n;
  const double span = k_max - k_min;
  fd.m_lo = k_min - span;
  fd.m_hi = k_max + span;
  fd.log_sigma_lo = std::log(std::max(1e-4, 1e-3 * span));
  fd.log_sigma_hi = std::log(5.0 * span);
  return true;
}

}  // namespace

bool svi_is_admissible(const svi_params& p) {
  if (!finite5(p) || p.b < 0.0 || !(std::abs(p.rho) < 1.0) || !(p.sigma > 0.0)) return false;
  return p.a + p.b * p.sigma * std::sqrt(1.0 - p.rho * p.rho) >= 0.0;
}

double svi_total_variance(const svi_params& p, double log_moneyness) {
  const double x = log_moneyness - p.m;
  return p.a + p.b * (p.rho * x + std::sqrt(x * x + p.sigma * p.sigma));
}

double svi_implied_vol(const svi_params& p, double log_moneyness, double t_years) {
  const double w = svi_total_variance(p, log_moneyness);
  if (!(t_years > 0.0) || !(w >= 0.0)) return nan_v;
  return std::sqrt(w / t_years);
}

double svi_total_variance_dk(const svi_params& p, double log_moneyness) {
  const double x = log_moneyness - p.m;
  return p.b * (p.rho + x / std::sqrt(x * x + p.sigma * p.sigma));
}

double svi_total_variance_dk2(const svi_params& p, double log_moneyness) {
  const double x = log_moneyness - p.m;
  const double r2 = x * x + p.sigma * p.sigma;
  return p.b * p.sigma * p.sigma / (r2 * std::sqrt(r2));
}

double svi_g(const svi_params& p, double log_moneyness) {
  const double k = log_moneyness;
  const double w = svi_total_variance(p, k);
  if (!(w > 0.0)) return nan_v;
  const double w1 = svi_total_variance_dk(p, k);
  const double w2 = svi_total_variance_dk2(p, k);
  // Gatheral & Jacquier (2014), §2: g(k) = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) + w''/2.
  const double t1 = 1.0 - k * w1 / (2.0 * w);
  return t1 * t1 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2;
}

svi_check_result svi_butterfly_check(const svi_params& p, double k_min, double k_max) {
  svi_check_result out;
  if (!svi_is_admissible(p) || !std::isfinite(k_min) || !std::isfinite(k_max) || !(k_min < k_max)) {
    out.code = status::invalid_input;
    return out;
  }
  const int n = static_cast<int>(std::min(std::ceil((k_max - k_min) / check_step_k), 1e6)) + 1;
  const double h = (k_max - k_min) / (n - 1);
  double min_g = std::numeric_limits<double>::max();
  double arg = k_min;
  for (int i = 0; i < n; ++i) {
    const double k = k_min + h * i;
    if (!(svi_total_variance(p, k) > 0.0)) {
      out.code = status::degenerate;
      out.argmin_k = k;
      return out;
    }
    const double g = svi_g(p, k);
    if (g < min_g) {
      min_g = g;
      arg = k;
    }
  }
  // Golden-section refinement between the grid neighbours of the minimum.
  constexpr double phi = 0.6180339887498949;
  double lo = std::max(k_min, arg - h), hi = std::min(k_max, arg + h);
  double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
  double g1 = svi_g(p, x1), g2 = svi_g(p, x2);
  for (int it = 0; it < 40 && std::isfinite(g1) && std::isfinite(g2); ++it) {
    if (g1 < g2) {
      hi = x2;
      x2 = x1;
      g2 = g1;
      x1 = hi - phi * (hi - lo);
      g1 = svi_g(p, x1);
    } else {
      lo = x1;
      x1 = x2;
      g1 = g2;
      x2 = lo + phi * (hi - lo);
      g2 = svi_g(p, x2);
    }
  }
  if (std::isfinite(g1) && g1 < min_g) {
    min_g = g1;
    arg = x1;
  }
  if (std::isfinite(g2) && g2 < min_g) {
    min_g = g2;
    arg = x2;
  }
  out.min_g = min_g;
  out.argmin_k = arg;
  out.butterfly_free = min_g >= 0.0;
  return out;
}

calendar_check_result svi_calendar_check(std::span<const svi_params> slices,
                                         std::span<const double> t_years, double k_min,
                                         double k_max) {
  calendar_check_result out;
  const auto invalid = [&] {
    out.calendar_free = false;
    out.code = status::invalid_input;
    return out;
  };
  if (slices.size() != t_years.size() || !std::isfinite(k_min) || !std::isfinite(k_max) ||
      !(k_min < k_max)) {
    return invalid();
  }
  for (std::size_t i = 0; i < slices.size(); ++i) {
    if (!svi_is_admissible(slices[i]) || !(t_years[i] > 0.0) || !std::isfinite(t_years[i])) {
      return invalid();
    }
    if (i > 0 && !(t_years[i] > t_years[i - 1])) return invalid();
  }
  const int n = static_cast<int>(std::min(std::ceil((k_max - k_min) / check_step_k), 1e6)) + 1;
  const double h = (k_max - k_min) / (n - 1);
  for (std::size_t i = 1; i < slices.size(); ++i) {
    for (int j = 0; j < n; ++j) {
      const double k = k_min + h * j;
      const double v = svi_total_variance(slices[i - 1], k) - svi_total_variance(slices[i], k);
      if (v > out.worst_violation) {
        out.worst_violation = v;
        out.at_k = k;
        out.slice_index = static_cast<int>(i);
        out.calendar_free = false;
      }
    }
  }
  return out;
}

svi_fit_result svi_fit(double t_years, double forward, std::span<const double> strikes,
                       std::span<const double> ivs, std::span<const double> weights,
                       const svi_params* warm_start) {
  return svi_fit(t_years, forward, strikes, ivs, weights, warm_start, svi_fit_options{});
}

svi_fit_result svi_fit(double t_years, double forward, std::span<const double> strikes,
                       std::span<const double> ivs, std::span<const double> weights,
                       const svi_params* warm_start, const svi_fit_options& options) {
  svi_fit_result out;
  if (!std::isfinite(t_years) || !(t_years > 0.0) || !std::isfinite(forward) || !(forward > 0.0) ||
      strikes.size() != ivs.size() || (!weights.empty() && weights.size() != strikes.size())) {
    out.code = status::invalid_input;
    return out;
  }
  const std::size_t n_in = strikes.size();
  const auto usable = [&](std::size_t i) {
    const double wt = weights.empty() ? 1.0 : weights[i];
    return std::isfinite(strikes[i]) && strikes[i] > 0.0 && std::isfinite(ivs[i]) && ivs[i] > 0.0 &&
           std::isfinite(wt) && wt > 0.0;
  };
  int n = 0;
  for (std::size_t i = 0; i < n_in; ++i) n += usable(i) ? 1 : 0;
  out.points_used = n;
  // Seven arrays: k, w, omega, y, z, iv, vol weight. On the stack up to svi_fit_max_points.
  constexpr int n_arrays = 7;
  std::array<double, n_arrays * svi_fit_max_points> stack_buf;
  std::vector<double> heap_buf;
  double* buf = stack_buf.data();
  if (n > svi_fit_max_points) {
    heap_buf.resize(static_cast<std::size_t>(n_arrays) * n);
    buf = heap_buf.data();
  }
  fit_arrays fa{buf, buf + n, buf + 2 * n, buf + 3 * n, buf + 4 * n, buf + 5 * n, buf + 6 * n};
  int j = 0;
  for (std::size_t i = 0; i < n_in; ++i) {
    if (!usable(i)) continue;
    fa.k[j] = std::log(strikes[i] / forward);
    fa.iv[j] = ivs[i];
    fa.vw[j] = weights.empty() ? 1.0 : weights[i];
    ++j;
  }
  fit_data fd;
  if (!prepare(fa, n, t_years, fd)) {
    out.code = status::insufficient_data;
    return out;
  }
  out = fit_impl(t_years, fd, warm_start, fa.iv, fa.vw);
  if (!options.reject_outliers || (out.code != status::ok && out.code != status::no_convergence)) {
    return out;
  }
  // One rejection pass: errors beyond max(outlier_vol, 5 x median error) are bad marks, not
  // smile; if more than a third of the points qualify, the smile is the problem and all stay.
  double* err = fa.y;  // scratch is free between fits
  for (int i = 0; i < n; ++i) {
    err[i] = std::abs(svi_implied_vol(out.params, fa.k[i], t_years) - fa.iv[i]);
  }
  std::copy(err, err + n, fa.z);
  std::nth_element(fa.z, fa.z + n / 2, fa.z + n);
  const double threshold = std::max(options.outlier_vol, 5.0 * fa.z[n / 2]);
  int kept = 0;
  for (int i = 0; i < n; ++i) kept += err[i] <= threshold ? 1 : 0;
  if (kept == n || 3 * (n - kept) > n) return out;
  // Compact in place; prepare renormalises the kept weights.
  int m = 0;
  for (int i = 0; i < n; ++i) {
    if (err[i] > threshold) continue;
    fa.k[m] = fa.k[i];
    fa.iv[m] = fa.iv[i];
    fa.vw[m] = fa.vw[i];
    ++m;
  }
  fit_data fd2;
  if (!prepare(fa, m, t_years, fd2)) return out;
  // From the caller's warm start (the last accepted fit, made on clean data), else cold: never
  // from the first fit, which the outliers pulled.
  svi_fit_result second = fit_impl(t_years, fd2, warm_start, fa.iv, fa.vw);
  if (second.code != status::ok && second.code != status::no_convergence) return out;
  second.points_rejected = n - m;
  second.iterations += out.iterations;
  return second;
}

}  // namespace vrp::quant
