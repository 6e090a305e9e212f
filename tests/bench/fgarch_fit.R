# Side-by-side reference for bench_garch: fits GARCH(1,1)-t with a constant mean with R's fGarch
# (Debian r-cran-fgarch) on the same return files and reports the estimates and the time per fit.
#   Rscript tests/bench/fgarch_fit.R <dir> <n>...   (reads <dir>/returns_<n>.csv, writes
#   <dir>/fgarch_<n>.json)
suppressPackageStartupMessages(library(fGarch))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
for (n in args[-1]) {
  x <- scan(file.path(dir, paste0("returns_", n, ".csv")), quiet = TRUE)
  fit <- function() garchFit(~ garch(1, 1), data = x, cond.dist = "std", include.mean = TRUE,
                             trace = FALSE)
  f <- fit()  # warm-up (package code loaded, JIT)
  reps <- if (length(x) > 5000) 3 else 10
  elapsed <- system.time(for (i in seq_len(reps)) f <- fit())[["elapsed"]]
  cf <- coef(f)
  # fGarch's fit@fit$llh is the minimised negative log-likelihood.
  out <- sprintf(paste0('{"package":"fGarch %s","mu":%.17g,"omega":%.17g,"alpha":%.17g,',
                        '"beta":%.17g,"nu":%.17g,"loglik":%.17g,"seconds_per_fit":%.6g,"reps":%d}'),
                 as.character(packageVersion("fGarch")), cf[["mu"]], cf[["omega"]],
                 cf[["alpha1"]], cf[["beta1"]], cf[["shape"]], -f@fit$llh, elapsed / reps, reps)
  writeLines(out, file.path(dir, paste0("fgarch_", n, ".json")))
}
