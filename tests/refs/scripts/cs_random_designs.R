# Differential references: clinicalsignificance 3.0.0 on the randomised designs of
# cs_random_designs.py (and percentage / anchor calls on the package's claus_2020 and
# jacobson_1989 data).
#
#   python tests/refs/scripts/cs_random_designs.py      # writes .../data/*.csv + designs.json
#   R_LIBS=<library with clinicalsignificance 3.0.0> Rscript tests/refs/scripts/cs_random_designs.R
#
# Writes tests/refs/clinicalsignificance_random/{cs_calls.csv, cs_patient_results.csv.gz,
# cs_summary.csv, cs_scalars.csv, cs_anchor_group.csv, cs_versions.csv}. Every call is evaluated
# exactly as written in the `call` column of cs_calls.csv, with the design's CSV bound to the
# design name (`read.csv(..., stringsAsFactors = FALSE)`), in one R session.

suppressPackageStartupMessages({
  library(clinicalsignificance)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
root <- normalizePath(file.path(dirname(script), "..", "clinicalsignificance_random"))
data_dir <- file.path(root, "data")
meta <- fromJSON(file.path(data_dir, "designs.json"), simplifyVector = FALSE)

env <- new.env()
for (name in names(meta)) {
  assign(name, read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE),
         envir = env)
}
assign("claus_2020", clinicalsignificance::claus_2020, envir = env)
assign("jacobson_1989", clinicalsignificance::jacobson_1989, envir = env)

q <- function(x) if (is.character(x)) paste0('"', x, '"') else format(x, digits = 15)

calls <- list()
add <- function(id, design, text) calls[[length(calls) + 1]] <<- list(id = id, design = design,
                                                                         call = text)

for (name in names(meta)) {
  m <- meta[[name]]
  better <- q(m$better)
  if (isTRUE(m$hlm)) {
    base <- sprintf("%s, patient, time, score", name)
    add(paste0(name, "__dist_HLM"), name,
        sprintf('cs_distribution(%s, better_is = %s, rci_method = "HLM")', base, better))
    for (type in c("a", "c")) {
      add(paste0(name, "__comb_HLM_", type), name, sprintf(
        'cs_combined(%s, m_functional = %s, sd_functional = %s, better_is = %s, rci_method = "HLM", cutoff_type = "%s")',
        base, q(m$functional[[1]]), q(m$functional[[2]]), better, type))
    }
    next
  }
  pp <- sprintf("%s, patient, time, score, pre = %s, post = %s", name, q(m$pre), q(m$post))
  ppg <- sprintf("%s, patient, time, score, pre = %s, post = %s, group = group", name,
                 q(m$pre), q(m$post))
  r <- q(m$reliability)
  norms <- if (is.null(m$functional)) "" else sprintf(
    ", m_functional = %s, sd_functional = %s", q(m$functional[[1]]), q(m$functional[[2]]))
  types <- if (is.null(m$functional)) "a" else c("a", "b", "c")
  type_g <- if (is.null(m$functional)) "a" else "c"
  methods <- c("JT", "GLN", "HLL", "EN", "NK", "HA")
  relpost <- function(method) if (method == "NK") sprintf(", reliability_post = %s", r) else ""
  for (method in methods) {
    add(sprintf("%s__dist_%s", name, method), name, sprintf(
      'cs_distribution(%s, reliability = %s%s, better_is = %s, rci_method = "%s")',
      pp, r, relpost(method), better, method))
  }
  if (name == "d01_phq9_n10") {
    add(paste0(name, "__dist_NK_relpost060"), name, sprintf(
      'cs_distribution(%s, reliability = %s, reliability_post = 0.6, better_is = %s, rci_method = "NK")',
      pp, r, better))
  }
  for (cm in c("JT", "HA")) for (type in types) {
    rel <- if (cm == "HA") sprintf(", reliability = %s", r) else ""
    add(sprintf("%s__stat_%s_%s", name, cm, type), name, sprintf(
      'cs_statistical(%s%s%s, better_is = %s, cutoff_method = "%s", cutoff_type = "%s")',
      pp, norms, rel, better, cm, type))
  }
  for (method in methods) for (type in types) {
    add(sprintf("%s__comb_%s_%s", name, method, type), name, sprintf(
      'cs_combined(%s, reliability = %s%s%s, better_is = %s, rci_method = "%s", cutoff_type = "%s")',
      pp, r, relpost(method), norms, better, method, type))
  }
  if (!is.null(m$functional)) {
    # R aborts here (documented difference 5): recorded with status "error"
    add(sprintf("%s__comb_NK_c_no_relpost", name), name, sprintf(
      'cs_combined(%s, reliability = %s%s, better_is = %s, rci_method = "NK", cutoff_type = "c")',
      pp, r, norms, better))
  }
  # percentage change
  add(sprintf("%s__pct_50", name), name, sprintf(
    "cs_percentage(%s, pct_improvement = 0.5, better_is = %s)", pp, better))
  add(sprintf("%s__pct_50_20", name), name, sprintf(
    "cs_percentage(%s, pct_improvement = 0.5, pct_deterioration = 0.2, better_is = %s)", pp, better))
  add(sprintf("%s__pct_25", name), name, sprintf(
    "cs_percentage(%s, pct_improvement = 0.25, better_is = %s)", pp, better))
  # anchor-based (individual)
  mid <- m$anchor_mid
  add(sprintf("%s__anchor_ind", name), name, sprintf(
    'cs_anchor(%s, mid_improvement = %s, better_is = %s, target = "individual")',
    pp, q(mid$improvement), better))
  if (!is.null(mid$deterioration)) {
    add(sprintf("%s__anchor_ind_det", name), name, sprintf(
      'cs_anchor(%s, mid_improvement = %s, mid_deterioration = %s, better_is = %s, target = "individual")',
      pp, q(mid$improvement), q(mid$deterioration), better))
  }
  # anchor-based (group level, frequentist: bayesian = FALSE)
  add(sprintf("%s__anchor_grp_within", name), name, sprintf(
    'cs_anchor(%s, mid_improvement = %s, better_is = %s, target = "group", bayesian = FALSE)',
    pp, q(mid$improvement), better))
  if (isTRUE(m$group)) {
    add(sprintf("%s__dist_JT_by_group", name), name, sprintf(
      'cs_distribution(%s, reliability = %s, better_is = %s, rci_method = "JT")', ppg, r, better))
    add(sprintf("%s__stat_JT_%s_by_group", name, type_g), name, sprintf(
      'cs_statistical(%s%s, better_is = %s, cutoff_method = "JT", cutoff_type = "%s")',
      ppg, norms, better, type_g))
    add(sprintf("%s__comb_JT_%s_by_group", name, type_g), name, sprintf(
      'cs_combined(%s, reliability = %s%s, better_is = %s, rci_method = "JT", cutoff_type = "%s")',
      ppg, r, norms, better, type_g))
    add(sprintf("%s__pct_50_20_by_group", name), name, sprintf(
      "cs_percentage(%s, pct_improvement = 0.5, pct_deterioration = 0.2, better_is = %s)", ppg, better))
    add(sprintf("%s__anchor_ind_by_group", name), name, sprintf(
      'cs_anchor(%s, mid_improvement = %s, better_is = %s, target = "individual")',
      ppg, q(mid$improvement), better))
    add(sprintf("%s__anchor_grp_within_by_group", name), name, sprintf(
      'cs_anchor(%s, mid_improvement = %s, better_is = %s, target = "group", bayesian = FALSE)',
      ppg, q(mid$improvement), better))
    add(sprintf("%s__anchor_grp_between", name), name, sprintf(
      'cs_anchor(%s, patient, time, score, group = group, post = %s, mid_improvement = %s, better_is = %s, target = "group", effect = "between", bayesian = FALSE)',
      name, q(m$post), q(mid$improvement), better))
  }
}

# percentage change and anchor calls on the package data sets
cl <- "claus_2020, id, time, bdi, pre = 1, post = 4"
clh <- "claus_2020, id, time, hamd, pre = 1, post = 4"
jg <- 'jacobson_1989, subject, time, gds, pre = "pre", post = "post"'
jd <- 'jacobson_1989, subject, time, das, pre = "pre", post = "post"'
pkg_calls <- list(
  pct_claus_bdi_50 = sprintf('cs_percentage(%s, pct_improvement = 0.5, better_is = "lower")', cl),
  pct_claus_bdi_50_20 = sprintf('cs_percentage(%s, pct_improvement = 0.5, pct_deterioration = 0.2, better_is = "lower")', cl),
  pct_claus_bdi_50_by_treatment = sprintf('cs_percentage(%s, group = treatment, pct_improvement = 0.5, better_is = "lower")', cl),
  pct_claus_hamd_40_30 = sprintf('cs_percentage(%s, pct_improvement = 0.4, pct_deterioration = 0.3, better_is = "lower")', clh),
  pct_jac_gds_30 = sprintf('cs_percentage(%s, pct_improvement = 0.3, better_is = "lower")', jg),
  pct_jac_das_25 = sprintf('cs_percentage(%s, pct_improvement = 0.25, better_is = "higher")', jd),
  pct_jac_das_25_10 = sprintf('cs_percentage(%s, pct_improvement = 0.25, pct_deterioration = 0.1, better_is = "higher")', jd),
  anchor_claus_bdi_7 = sprintf('cs_anchor(%s, mid_improvement = 7, better_is = "lower")', cl),
  anchor_claus_bdi_7_5 = sprintf('cs_anchor(%s, mid_improvement = 7, mid_deterioration = 5, better_is = "lower")', cl),
  anchor_claus_bdi_7_by_treatment = sprintf('cs_anchor(%s, group = treatment, mid_improvement = 7, better_is = "lower")', cl),
  anchor_claus_hamd_5 = sprintf('cs_anchor(%s, mid_improvement = 5, better_is = "lower")', clh),
  anchor_jac_gds_10 = sprintf('cs_anchor(%s, mid_improvement = 10, better_is = "lower")', jg),
  anchor_jac_das_5_3 = sprintf('cs_anchor(%s, mid_improvement = 5, mid_deterioration = 3, better_is = "higher")', jd),
  anchor_grp_claus_bdi_7 = sprintf('cs_anchor(%s, mid_improvement = 7, better_is = "lower", target = "group", bayesian = FALSE)', cl),
  anchor_grp_claus_bdi_7_by_treatment = sprintf('cs_anchor(%s, group = treatment, mid_improvement = 7, better_is = "lower", target = "group", bayesian = FALSE)', cl),
  anchor_grp_claus_bdi_7_between = 'cs_anchor(claus_2020, id, time, bdi, group = treatment, post = 4, mid_improvement = 7, better_is = "lower", target = "group", effect = "between", bayesian = FALSE)',
  anchor_grp_jac_das_5 = sprintf('cs_anchor(%s, mid_improvement = 5, better_is = "higher", target = "group", bayesian = FALSE)', jd),
  anchor_grp_jac_gds_10_ci90 = sprintf('cs_anchor(%s, mid_improvement = 10, better_is = "lower", target = "group", bayesian = FALSE, ci_level = 0.9)', jg)
)
for (id in names(pkg_calls)) add(id, sub(",.*", "", sub("^[a-z_]+\\(", "", pkg_calls[[id]])), pkg_calls[[id]])

# ---------------------------------------------------------------------------------------------
num <- function(x) {
  # shortest of 15/16/17 significant digits that round-trips to the identical double
  out <- sprintf("%.15g", x)
  bad <- !is.na(x) & suppressWarnings(as.numeric(out)) != x
  out[bad] <- sprintf("%.16g", x[bad])
  bad <- !is.na(x) & suppressWarnings(as.numeric(out)) != x
  out[bad] <- sprintf("%.17g", x[bad])
  out[is.na(x)] <- NA
  out
}
as_text <- function(df) {
  for (col in names(df)) {
    v <- df[[col]]
    if (is.factor(v)) v <- as.character(v)
    if (is.double(v)) v <- num(v)
    df[[col]] <- v
  }
  df
}
scalars <- function(x, prefix = "") {
  out <- list()
  for (nm in names(x)) {
    if (nm %in% c("datasets", "summary_table", "data", "coefficients")) next
    v <- x[[nm]]
    key <- paste0(prefix, nm)
    if (inherits(v, "merMod")) {
      fe <- lme4::fixef(v)
      for (f in names(fe)) out[[paste0("hlm.fixef.", f)]] <- num(fe[[f]])
      vc <- as.data.frame(lme4::VarCorr(v))
      for (i in seq_len(nrow(vc))) {
        k <- paste(c(vc$grp[i], vc$var1[i], if (!is.na(vc$var2[i])) vc$var2[i]), collapse = ":")
        k <- sub(":NA$", "", k)
        out[[paste0("hlm.vcov.", k)]] <- num(vc$vcov[i])
      }
      out[["hlm.reml_criterion"]] <- num(lme4::REMLcrit(v))
    } else if (is.data.frame(v)) {
      next
    } else if (is.list(v)) {
      out <- c(out, scalars(v, paste0(key, ".")))
    } else if (length(v) == 1 && (is.numeric(v) || is.character(v) || is.logical(v))) {
      out[[key]] <- if (is.double(v)) num(v) else as.character(v)
    }
  }
  out
}

call_rows <- list(); patients <- list(); summaries <- list(); scal <- list(); groups <- list()
for (cl_ in calls) {
  msgs <- character()
  res <- tryCatch(
    withCallingHandlers(
      eval(parse(text = cl_$call)[[1]], envir = env),
      message = function(m) { msgs <<- c(msgs, trimws(conditionMessage(m))); invokeRestart("muffleMessage") },
      warning = function(w) { msgs <<- c(msgs, paste("warning:", conditionMessage(w))); invokeRestart("muffleWarning") }
    ),
    error = function(e) e
  )
  status <- if (inherits(res, "error")) "error" else "ok"
  if (status == "error") msgs <- c(msgs, paste("error:", conditionMessage(res)))
  call_rows[[length(call_rows) + 1]] <- data.frame(
    call_id = cl_$id, design = cl_$design, status = status, call = cl_$call,
    messages = gsub("\n", " ", paste(msgs, collapse = " || ")))
  if (status == "error") next
  group_target <- inherits(res, "cs_anchor_group_within") || inherits(res, "cs_anchor_group_between")
  if (group_target) {
    g <- as.data.frame(res$anchor_results)
    groups[[length(groups) + 1]] <- cbind(call_id = cl_$id, as_text(g))
  } else {
    aug <- as.data.frame(cs_get_augmented_data(res))
    aug$id <- as.character(aug$id)
    patients[[length(patients) + 1]] <- cbind(call_id = cl_$id, as_text(aug))
    st <- res$summary_table
    if (is.data.frame(st)) st <- list(individual_level_summary = st)
    for (lvl in intersect(names(st), c("individual_level_summary", "group_level_summary"))) {
      summaries[[length(summaries) + 1]] <- cbind(call_id = cl_$id, level = lvl,
                                                  as_text(as.data.frame(st[[lvl]])))
    }
  }
  s <- scalars(res)
  if (length(s)) scal[[length(scal) + 1]] <- data.frame(call_id = cl_$id, name = names(s),
                                                        value = unlist(s, use.names = FALSE))
}

bind <- function(x) dplyr::bind_rows(x)
write <- function(df, file) {
  con <- if (grepl("\\.gz$", file)) gzfile(file.path(root, file)) else file.path(root, file)
  write.csv(df, con, row.names = FALSE, na = "")
}
write(bind(call_rows), "cs_calls.csv")
write(bind(patients), "cs_patient_results.csv.gz")
write(bind(summaries), "cs_summary.csv")
write(bind(scal), "cs_scalars.csv")
write(bind(groups), "cs_anchor_group.csv")
pk <- c("clinicalsignificance", "dplyr", "tidyr", "tibble", "rlang", "vctrs", "lme4", "Matrix",
        "insight", "bayestestR", "BayesFactor", "jsonlite")
write(data.frame(package = c("R", pk),
                 version = c(paste(R.version$major, R.version$minor, sep = "."),
                             vapply(pk, function(p) as.character(packageVersion(p)), ""))),
      "cs_versions.csv")
cr <- bind(call_rows)
cat(nrow(cr), "calls,", sum(cr$status == "ok"), "ok\n")
