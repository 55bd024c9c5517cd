# Polish flexmix's best ML solutions (made by flexmix_refs.R) to a sharp optimum.
#
# flexmix stops EM when the relative log-likelihood change falls below `tolerance`; plain EM
# converges linearly, so at 1e-10 the parameters of overlapping classes can still be ~1e-4 from
# the optimum. For each design and k this script restarts flexmix from the stored posterior of
# the best "ml" solution (out/<design>_ml_posterior.csv.gz, expanded to the patient's rows):
#
#   flexmix(f, data = d, k = k, cluster = <posterior>, model = FLXMRglm_ml(),
#           control = list(minprior = 0, tolerance = 1e-14, iter.max = 20000))
#
# and writes out/<design>_mlpolish_{summary,coef}.csv and _posterior.csv.gz in the layout of
# flexmix_refs.R (seconds: this call only).
#
# Usage, from the repository root (after flexmix_refs.R):
#   Rscript tests/refs/scripts/flexmix_polish.R [OUT_DIR [DESIGN ...]]

suppressPackageStartupMessages(library(flexmix))
FLXMRglm_ml <- function(formula = . ~ .) {
  z <- FLXMRglm(formula)
  z@fit <- function(x, y, w, component) {
    fit <- lm.wfit(x, y, w = w)
    z@defineComponent(para = list(coef = coef(fit), df = ncol(x) + 1,
                                  sigma = sqrt(sum(w * fit$residuals^2) / sum(w))))
  }
  z
}
root <- "tests/refs/flexmix"
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else file.path(root, "out")
only <- if (length(args) >= 2) args[2:length(args)] else NULL
num <- function(x) sprintf("%.17g", x)
designs <- read.csv(file.path(root, "designs.csv"), stringsAsFactors = FALSE)
ctrl <- list(minprior = 0, tolerance = 1e-14, iter.max = 20000)
for (i in seq_len(nrow(designs))) {
  de <- designs[i, ]
  if (!is.null(only) && !(de$design %in% only)) next
  d <- read.csv(file.path(root, "data", paste0(de$design, ".csv")))
  rhs <- if ("x2" %in% names(d)) "x1 + x2" else "x1"
  f <- as.formula(paste("score ~", rhs, "| patient"))
  post_all <- read.csv(file.path(out, paste0(de$design, "_ml_posterior.csv.gz")))
  summ <- list(); coefs <- list(); posts <- list()
  for (k in sort(unique(post_all$k))) {
    pk <- post_all[post_all$k == k, ]
    start <- as.matrix(pk[match(d$patient, pk$patient), paste0("p", 1:k), drop = FALSE])
    t0 <- proc.time()[["elapsed"]]
    m <- if (k == 1) flexmix(f, data = d, k = 1, model = FLXMRglm_ml(), control = ctrl)
         else flexmix(f, data = d, k = k, cluster = start, model = FLXMRglm_ml(), control = ctrl)
    secs <- proc.time()[["elapsed"]] - t0
    kr <- m@k
    summ[[k]] <- data.frame(k = k, k_returned = kr, logLik = num(logLik(m)), df = m@df,
                            nobs = attr(logLik(m), "nobs"), BIC = num(BIC(m)), ICL = num(ICL(m)),
                            EIC = num(if (kr > 1) EIC(m) else NA), iter = m@iter,
                            converged = m@converged, seconds = num(secs))
    pars <- parameters(m)
    pars <- if (is.null(dim(pars))) matrix(pars, ncol = 1, dimnames = list(names(pars), NULL))
            else pars
    for (j in seq_len(kr)) {
      coefs[[length(coefs) + 1]] <- data.frame(
        k = k, class = j, term = c(sub("^coef\\.", "", rownames(pars)), "prior"),
        estimate = num(c(pars[, j], prior(m)[j])))
    }
    first <- !duplicated(d$patient)
    post <- posterior(m)[first, , drop = FALSE]
    pf <- data.frame(k = k, patient = d$patient[first])
    for (j in 1:5) pf[[paste0("p", j)]] <- if (j <= kr) num(post[, j]) else ""
    posts[[k]] <- pf
  }
  write.csv(do.call(rbind, summ), file.path(out, paste0(de$design, "_mlpolish_summary.csv")),
            row.names = FALSE, quote = FALSE)
  write.csv(do.call(rbind, coefs), file.path(out, paste0(de$design, "_mlpolish_coef.csv")),
            row.names = FALSE, quote = FALSE)
  con <- gzfile(file.path(out, paste0(de$design, "_mlpolish_posterior.csv.gz")), "w")
  write.csv(do.call(rbind, posts), con, row.names = FALSE, quote = FALSE)
  close(con)
  cat(de$design, "polished\n")
}
