# flexmix references for tests/test_trajectory_classes.py (latent-class growth analysis).
#
# Reads tests/refs/flexmix/designs.csv and data/<design>.csv (made by flexmix_designs.py) and,
# for each design, fits k = 1..k_max classes with three flexmix models of
# `score ~ x1 (+ x2) | patient` (x1, x2: the transformed time terms; `| patient`: one class per
# patient):
#
#   glm:   stepFlexmix(f, data = d, k = 1:K, nrep = 20, model = FLXMRglm(),
#                      control = list(minprior = 0, tolerance = 1e-10, iter.max = 5000))
#          flexmix's standard Gaussian mixture of regressions, class-specific variance. Its
#          M-step estimates sigma with a degrees-of-freedom correction,
#          sum(w r^2) / (sum(w) - rank * mean(w)), so its fixed point is close to, but not,
#          the maximum likelihood: compared with variance="class" on the log-likelihood only.
#   ml:    the same with FLXMRglm_ml() below, whose M-step uses the ML variance
#          sum(w r^2) / sum(w): the same model and estimator as variance="class", so class
#          curves, variances, priors and posteriors are compared too.
#   fix:   the same with FLXMRglmfix(varFix = TRUE): one variance shared by the classes,
#          compared with variance="equal" on the log-likelihood.
#
# minprior = 0 keeps small classes (flexmix's default 0.05 drops them); the tight tolerance
# makes flexmix's optimum sharp enough to compare parameters at 1e-4. For each design, model
# and k, the best of the 20 replications (getModel(fits, which = k), the largest
# log-likelihood) is written:
#
#   out/<design>_<model>_summary.csv   k, k_returned, logLik, df, nobs, BIC, ICL, EIC, iter,
#                                      converged, seconds (the whole stepFlexmix call)
#   out/<design>_<model>_coef.csv      k, class, term, estimate; sigma and prior as terms
#   out/<design>_ml_posterior.csv.gz   k, patient, p1..pk (one row per patient)
#
# Numbers are written with 17 significant digits. set.seed(20261203) before each call.
#
# Usage, from the repository root:
#   python tests/refs/scripts/flexmix_designs.py
#   Rscript tests/refs/scripts/flexmix_refs.R [OUT_DIR]      (default tests/refs/flexmix/out)

suppressPackageStartupMessages(library(flexmix))
if (as.character(packageVersion("flexmix")) != "2.3.18") {
  warning("expected flexmix 2.3.18, found ", packageVersion("flexmix"))
}

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
dir.create(out, showWarnings = FALSE, recursive = TRUE)
num <- function(x) sprintf("%.17g", x)

designs <- read.csv(file.path(root, "designs.csv"), stringsAsFactors = FALSE)
ctrl <- list(minprior = 0, tolerance = 1e-10, iter.max = 5000)
for (i in seq_len(nrow(designs))) {
  de <- designs[i, ]
  if (!is.null(only) && !(de$design %in% only)) next
  d <- read.csv(file.path(root, "data", paste0(de$design, ".csv")))
  rhs <- if ("x2" %in% names(d)) "x1 + x2" else "x1"
  f <- as.formula(paste("score ~", rhs, "| patient"))
  K <- de$k_max
  for (model in c("glm", "ml", "fix")) {
    mk <- switch(model, glm = function() FLXMRglm(), ml = function() FLXMRglm_ml(),
                 fix = function() FLXMRglmfix(varFix = TRUE))
    set.seed(20261203)
    t0 <- proc.time()[["elapsed"]]
    fits <- suppressWarnings(stepFlexmix(f, data = d, k = 1:K, nrep = 20, model = mk(),
                                         control = ctrl, verbose = FALSE))
    secs <- proc.time()[["elapsed"]] - t0
    summ <- list(); coefs <- list(); posts <- list()
    for (k in 1:K) {
      m <- getModel(fits, which = as.character(k))
      kr <- m@k
      summ[[k]] <- data.frame(k = k, k_returned = kr, logLik = num(logLik(m)), df = m@df,
                              nobs = attr(logLik(m), "nobs"), BIC = num(BIC(m)), ICL = num(ICL(m)),
                              EIC = num(if (kr > 1) EIC(m) else NA), iter = m@iter,
                              converged = m@converged, seconds = num(secs))
      pars <- parameters(m)
      pars <- if (is.null(dim(pars))) matrix(pars, ncol = 1, dimnames = list(names(pars), NULL))
              else pars
      terms <- rownames(pars)
      for (j in seq_len(kr)) {
        coefs[[length(coefs) + 1]] <- data.frame(
          k = k, class = j,
          term = c(sub("^coef\\.", "", terms), "prior"),
          estimate = num(c(pars[, j], prior(m)[j])))
      }
      if (model == "ml") {
        first <- !duplicated(d$patient)
        post <- posterior(m)[first, , drop = FALSE]
        pf <- data.frame(k = k, patient = d$patient[first])
        for (j in 1:5) pf[[paste0("p", j)]] <- if (j <= kr) num(post[, j]) else ""
        posts[[k]] <- pf
      }
    }
    write.csv(do.call(rbind, summ), file.path(out, paste0(de$design, "_", model, "_summary.csv")),
              row.names = FALSE, quote = FALSE)
    write.csv(do.call(rbind, coefs), file.path(out, paste0(de$design, "_", model, "_coef.csv")),
              row.names = FALSE, quote = FALSE)
    if (model == "ml") {
      con <- gzfile(file.path(out, paste0(de$design, "_ml_posterior.csv.gz")), "w")
      write.csv(do.call(rbind, posts), con, row.names = FALSE, quote = FALSE)
      close(con)
    }
    cat(de$design, model, "done in", round(secs, 1), "s\n")
  }
}
