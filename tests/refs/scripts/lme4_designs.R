# Fit every design of tests/refs/lme4_designs/designs.json with lme4 and write
# tests/refs/lme4_designs/lme4_results.json (the reference of tests/test_growth_random_designs.py).
#
# Run from the repository root, after `python tests/refs/scripts/growth_designs.py`:
#     Rscript tests/refs/scripts/lme4_designs.R            # all designs
#     Rscript tests/refs/scripts/lme4_designs.R 001 017    # only designs whose id starts so
#                                                          # (then writes lme4_results_partial.json)
#
# For every design:
#   * the design columns are built explicitly with fit_growth's term names (intercept; time,
#     time2 or time_after_knot; <cov> or <cov>[T.<level>] dummy coded against the first level in
#     C-locale sorted order; <cov>:<time term>), held in the model frame as v1, v2, ... so that
#     the formula is exactly `score ~ 1 + v1 + ... + (1 + v1 | patient) [+ (1 | cluster)]` with
#     v1 the (transformed) time;
#   * "default": lmer(formula, data, REML = ., control = lmerControl()) (lme4's defaults);
#   * "best": refits from the default fit's theta (and from a few other starts) with tight
#     optimisers (nloptwrap BOBYQA with xtol_rel = 1e-12, ftol_rel = 1e-14; minqa bobyqa with
#     rhoend = 1e-11; Nelder_Mead with FtolRel = 1e-15), restarts off the boundary when a
#     diagonal theta of the winner is 0, and a final polish of the best one; the lowest
#     criterion wins. Both are stored with: REML criterion (REMLcrit) or deviance
#     (deviance), fixed effects, SEs sqrt(diag(vcov)), theta (getME(fit, "theta"), patient block
#     (lower triangle column-major), then the cluster), sigma^2, the patient random-effects
#     covariance (VarCorr), the cluster variance, isSingular(fit, tol = 1e-4), the optimiser's
#     messages and the warnings raised by the call.
# Doubles are written with 17 significant digits.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
  library(parallel)
})

root <- file.path("tests", "refs", "lme4_designs")
args <- commandArgs(trailingOnly = TRUE)
designs <- fromJSON(file.path(root, "designs.json"), simplifyVector = FALSE)
if (length(args)) {
  keep <- vapply(designs, function(d) any(startsWith(d$id, args)), logical(1))
  designs <- designs[keep]
}

# ---------------------------------------------------------------------------------------------
# JSON writer with 17 significant digits (jsonlite stops at 15)
# ---------------------------------------------------------------------------------------------
num17 <- function(x) {
  ifelse(is.na(x) | !is.finite(x), "null", sprintf("%.17g", x))
}
to_json <- function(x, indent = 0) {
  pad <- strrep(" ", indent + 1)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    inner <- vapply(x, to_json, character(1), indent = indent + 1)
    if (!is.null(names(x))) {
      keys <- vapply(names(x), function(k) toJSON(k, auto_unbox = TRUE), character(1))
      body <- paste0(pad, keys, ": ", inner, collapse = ",\n")
      return(paste0("{\n", body, "\n", strrep(" ", indent), "}"))
    }
    return(paste0("[", paste(inner, collapse = ", "), "]"))
  }
  as_array <- length(x) != 1 || inherits(x, "AsIs")
  vals <- if (is.logical(x)) {
    ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else if (is.numeric(x)) {
    num17(as.numeric(x))
  } else {
    vapply(as.character(x), function(s) toJSON(s, auto_unbox = TRUE), character(1))
  }
  if (!is.null(names(x)) && length(x) > 0) {
    keys <- vapply(names(x), function(k) toJSON(k, auto_unbox = TRUE), character(1))
    return(paste0("{", paste0(keys, ": ", vals, collapse = ", "), "}"))
  }
  if (as_array) paste0("[", paste(vals, collapse = ", "), "]") else vals
}

# ---------------------------------------------------------------------------------------------
# Design columns with fit_growth's names
# ---------------------------------------------------------------------------------------------
time_terms <- function(t, transform, knot) {
  switch(transform,
    linear = list(time = t),
    log = list(time = log(t)),
    log1p = list(time = log1p(t)),
    quadratic = list(time = t, time2 = t * t),
    piecewise = list(time = t, time_after_knot = pmax(t - knot, 0))
  )
}

build <- function(d, design) {
  d <- d[!is.na(d$score), , drop = FALSE]
  knot <- if (is.null(design$knot)) NA_real_ else as.numeric(design$knot)
  tt <- time_terms(as.numeric(d$session), design$time_transform, knot)
  cols <- tt
  covcols <- list()
  for (cv in unlist(design$covariates)) {
    x <- d[[cv]]
    if (is.numeric(x)) {
      covcols[[cv]] <- as.numeric(x)
    } else {
      levels <- sort(unique(as.character(x)), method = "radix")  # C-locale order
      for (lv in levels[-1]) covcols[[paste0(cv, "[T.", lv, "]")]] <- as.numeric(x == lv)
    }
  }
  cols <- c(cols, covcols)
  if (isTRUE(design$time_interactions)) {
    for (cn in names(covcols)) for (tn in names(tt)) {
      cols[[paste0(cn, ":", tn)]] <- covcols[[cn]] * tt[[tn]]
    }
  }
  internal <- paste0("v", seq_along(cols))
  fd <- data.frame(score = d$score, patient = factor(d$patient))
  for (k in seq_along(cols)) fd[[internal[k]]] <- cols[[k]]
  re <- if (design$random == "slope") "(1 + v1 | patient)" else "(1 | patient)"
  rhs <- paste(c("1", internal, re), collapse = " + ")
  if (!is.null(design$cluster)) {
    fd$cluster <- factor(d[[design$cluster]])
    rhs <- paste(rhs, "+ (1 | cluster)")
  }
  readable <- paste(c("1", sprintf("`%s`", names(cols)),
                      sub("v1", "time", re, fixed = TRUE)), collapse = " + ")
  if (!is.null(design$cluster)) readable <- paste(readable, sprintf("+ (1 | %s)", design$cluster))
  list(data = fd, formula = paste("score ~", rhs), readable = paste("score ~", readable),
       names = c("intercept", names(cols)), internal = c("(Intercept)", internal))
}

# ---------------------------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------------------------
fit_capture <- function(formula, data, reml, control, start = NULL) {
  warns <- character(0)
  msgs <- character(0)
  fit <- withCallingHandlers(
    tryCatch(
      lmer(as.formula(formula), data = data, REML = reml, control = control, start = start),
      error = function(e) e
    ),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      msgs <<- c(msgs, trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    }
  )
  list(fit = fit, warnings = warns, messages = msgs)
}

criterion <- function(fit, reml) if (reml) REMLcrit(fit) else deviance(fit)

extract <- function(res, b, reml, label) {
  fit <- res$fit
  if (inherits(fit, "error")) return(list(error = conditionMessage(fit), optimizer = label))
  fe <- fixef(fit)
  se <- sqrt(diag(as.matrix(vcov(fit))))
  map <- setNames(b$names, b$internal)
  th <- getME(fit, "theta")
  is_cl <- startsWith(names(th), "cluster.")
  theta <- c(th[!is_cl], th[is_cl])  # patient block first, then the cluster
  vc <- VarCorr(fit)
  pc <- unclass(vc$patient)
  attr(pc, "stddev") <- NULL
  attr(pc, "correlation") <- NULL
  re_names <- if (ncol(pc) == 2) c("intercept", "time") else "intercept"
  oi <- fit@optinfo
  list(
    optimizer = label,
    criterion = criterion(fit, reml),
    fixef = as.list(setNames(unname(fe), map[names(fe)])),
    se = as.list(setNames(unname(se), map[names(fe)])),
    theta = I(unname(theta)),
    theta_names = I(names(theta)),
    sigma2 = sigma(fit)^2,
    re_names = I(re_names),
    re_cov = lapply(seq_len(nrow(pc)), function(i) I(unname(pc[i, ]))),
    cluster_variance = if (!is.null(vc$cluster)) as.numeric(vc$cluster[1, 1]) else NULL,
    singular = isSingular(fit, tol = 1e-4),
    feval = oi$feval,
    optimizer_message = if (is.null(oi$message)) "" else as.character(oi$message),
    conv_messages = I(as.character(unlist(oi$conv$lme4$messages))),
    optinfo_warnings = I(as.character(unlist(oi$warnings))),
    call_warnings = I(res$warnings),
    call_messages = I(res$messages)
  )
}

controls <- function(n_theta) list(
  nloptwrap_tight = lmerControl(
    optimizer = "nloptwrap",
    optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", xtol_rel = 1e-12, ftol_rel = 1e-14,
                   xtol_abs = 1e-14, ftol_abs = 1e-14, maxeval = 1e5),
    calc.derivs = TRUE),
  bobyqa_tight = lmerControl(
    optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-2, rhoend = 1e-11, maxfun = 1e5)),
  nelder_mead_tight = lmerControl(
    optimizer = "Nelder_Mead",
    optCtrl = list(FtolAbs = 1e-14, FtolRel = 1e-15, XtolRel = 1e-12, maxfun = 1e5))
)

other_starts <- function(theta0, names0) {
  # a few spread starts (lme4's theta order): slope SD ratio small / large, cluster small / large
  is_cl <- startsWith(names0, "cluster.")
  diag_slope <- names0 == "patient.v1"
  out <- list(default_start = NULL)
  if (any(diag_slope)) {
    for (s in c(0.02, 0.3)) {
      th <- theta0
      th[diag_slope] <- s
      out[[sprintf("start_slope_%g", s)]] <- th
    }
  }
  if (any(is_cl)) {
    for (s in c(0.05, 1.5)) {
      th <- theta0
      th[is_cl] <- s
      out[[sprintf("start_cluster_%g", s)]] <- th
    }
  }
  out
}

fit_design <- function(design) {
  t0 <- proc.time()[["elapsed"]]
  d <- read.csv(gzfile(file.path(root, design$file)), stringsAsFactors = FALSE)
  b <- build(d, design)
  reml <- design$method == "REML"
  default <- fit_capture(b$formula, b$data, reml, lmerControl())
  out <- list(
    id = design$id,
    method = design$method,
    formula = b$formula,
    formula_terms = b$readable,
    term_names = as.list(setNames(b$names, b$internal)),
    call = sprintf("lmer(%s, data = d, REML = %s, control = lmerControl())", b$formula,
                   if (reml) "TRUE" else "FALSE"),
    n_obs = nrow(b$data),
    n_patients = nlevels(b$data$patient),
    default = extract(default, b, reml, "nloptwrap (lmerControl() default)")
  )
  if (inherits(default$fit, "error")) {
    out$best <- out$default
    out$seconds <- proc.time()[["elapsed"]] - t0
    return(out)
  }
  ctl <- controls()
  theta0 <- getME(default$fit, "theta")
  candidates <- list()
  for (nm in names(ctl)) {
    candidates[[paste0(nm, " from default fit")]] <- fit_capture(b$formula, b$data, reml,
                                                                 ctl[[nm]], start = theta0)
  }
  starts <- other_starts(theta0, names(theta0))
  for (sn in names(starts)) {
    candidates[[paste0("nloptwrap_tight from ", sn)]] <- fit_capture(
      b$formula, b$data, reml, ctl$nloptwrap_tight, start = starts[[sn]])
  }
  crit_of <- function(r) if (inherits(r$fit, "error")) Inf else criterion(r$fit, reml)
  crits <- vapply(candidates, crit_of, numeric(1))
  best_name <- names(candidates)[which.min(crits)]
  best <- candidates[[best_name]]
  # a diagonal theta on the boundary (0) is a stationary point of the Cholesky parametrisation:
  # restart from the winner with each such entry moved inside (and the off-diagonal's sign
  # flipped when it is the intercept's), keep what is lower
  th_best <- getME(best$fit, "theta")
  diag_names <- c("patient.(Intercept)", "patient.v1", "cluster.(Intercept)")
  for (dn in intersect(diag_names, names(th_best))) {
    if (th_best[[dn]] < 1e-4) {
      for (flip in c(1, -1)) {
        th <- th_best
        th[[dn]] <- 0.1
        if (dn == "patient.(Intercept)" && "patient.v1.(Intercept)" %in% names(th)) {
          th[["patient.v1.(Intercept)"]] <- flip * th[["patient.v1.(Intercept)"]]
        } else if (flip < 0) next
        label <- sprintf("nloptwrap_tight from %s = 0.1%s", dn, if (flip < 0) " (off-diagonal sign flipped)" else "")
        r <- fit_capture(b$formula, b$data, reml, ctl$nloptwrap_tight, start = th)
        crits[[label]] <- crit_of(r)
        if (crit_of(r) < crit_of(best)) {
          best <- r
          best_name <- label
        }
      }
    }
  }
  # polish the winner with the three tight optimisers
  th_best <- getME(best$fit, "theta")
  for (nm in c("bobyqa_tight", "nloptwrap_tight", "nelder_mead_tight")) {
    r <- fit_capture(b$formula, b$data, reml, ctl[[nm]], start = th_best)
    if (crit_of(r) < crit_of(best)) {
      best <- r
      best_name <- paste0(nm, " polishing ", best_name)
      th_best <- getME(best$fit, "theta")
    }
  }
  out$best <- extract(best, b, reml, best_name)
  out$best$candidates <- as.list(crits)
  out$best$control <- list(
    nloptwrap_tight = "lmerControl(optimizer = \"nloptwrap\", optCtrl = list(algorithm = \"NLOPT_LN_BOBYQA\", xtol_rel = 1e-12, ftol_rel = 1e-14, xtol_abs = 1e-14, ftol_abs = 1e-14, maxeval = 1e5))",
    bobyqa_tight = "lmerControl(optimizer = \"bobyqa\", optCtrl = list(rhobeg = 2e-2, rhoend = 1e-11, maxfun = 1e5))",
    nelder_mead_tight = "lmerControl(optimizer = \"Nelder_Mead\", optCtrl = list(FtolAbs = 1e-14, FtolRel = 1e-15, XtolRel = 1e-12, maxfun = 1e5))"
  )
  out$best_minus_default = out$best$criterion - out$default$criterion
  out$seconds <- proc.time()[["elapsed"]] - t0
  out
}

t_start <- proc.time()[["elapsed"]]
cores <- max(1L, min(2L, parallel::detectCores()))
# biggest designs first so that the two workers finish together
size <- vapply(designs, function(d) as.numeric(d$n_rows), numeric(1))
order_big <- order(-size)
res <- mclapply(designs[order_big], function(d) {
  r <- fit_design(d)
  message(sprintf("%-62s %7.1fs  best - default = %.3g", d$id, r$seconds,
                  if (is.null(r$best_minus_default)) NA else r$best_minus_default))
  r
}, mc.cores = cores, mc.preschedule = FALSE)
res <- res[order(order_big)]
names(res) <- vapply(designs, function(d) d$id, character(1))

out <- list(
  generated_by = "Rscript tests/refs/scripts/lme4_designs.R",
  R_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  Matrix_version = as.character(packageVersion("Matrix")),
  nloptr_version = as.character(packageVersion("nloptr")),
  minqa_version = as.character(packageVersion("minqa")),
  default_control = "lmerControl()  # optimizer = \"nloptwrap\" (NLOPT_LN_BOBYQA, xtol_abs = 1e-8, ftol_abs = 1e-8)",
  singular_tol = 1e-4,
  seconds_total = proc.time()[["elapsed"]] - t_start,
  designs = res
)
target <- if (length(args)) "lme4_results_partial.json" else "lme4_results.json"
writeLines(to_json(out), file.path(root, target))
message(sprintf("wrote %s (%d designs) in %.1f s", file.path(root, target), length(res),
                proc.time()[["elapsed"]] - t_start))
