#!/usr/bin/env Rscript
# Regenerates the clinicalsignificance reference files of tests/refs/clinicalsignificance/:
#   cs_calls.csv            call_id, status, exact call text, messages/warnings emitted
#   cs_patient_results.csv  cs_get_augmented_data(result) of every call, row-bound
#   cs_summary.csv          the individual-level summary table (and, for HA, the group-level one)
#   cs_scalars.csv          every scalar of the result object (+ the internal lmer fit for HLM)
#   cs_versions.csv         package versions
# Timings (timings_clinicalsignificance.csv) are not regenerated here; tests/refs/README.md
# describes how they were measured.
#
# Expects: R 4.2.2, clinicalsignificance 3.0.0 with dplyr 1.1.0, tidyr 1.3.0, tibble 3.1.8,
# rlang 1.0.6, lme4 1.1.31, Matrix 1.5.3, insight 0.19.0, bayestestR 0.13.0, BayesFactor
# 0.9.12.4.4 (the versions the stored references were made with; others run but warn).
#
# Run from the repository root:
#   Rscript tests/refs/scripts/peers_clinicalsignificance.R            # writes into tests/refs/clinicalsignificance/
#   Rscript tests/refs/scripts/peers_clinicalsignificance.R /tmp/refs  # writes into /tmp/refs/clinicalsignificance/
# With a private library: R_LIBS=/path/to/lib Rscript tests/refs/scripts/peers_clinicalsignificance.R /tmp/refs

local({
  args <- commandArgs(trailingOnly = FALSE)
  file <- sub("^--file=", "", args[grepl("^--file=", args)])
  here <- if (length(file) == 1L) dirname(normalizePath(file)) else "tests/refs/scripts"
  source(file.path(here, "peers_common.R"), local = globalenv())
})

suppressPackageStartupMessages(library(clinicalsignificance))
expect_version("clinicalsignificance", "3.0.0")
expect_version("lme4", "1.1.31")
out_dir <- file.path(peers_out_root(), "clinicalsignificance")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# The 83 calls, evaluated in one session with the package attached; claus_2020, jacobson_1989,
# anxiety and anxiety_complete are the package's data sets (= tests/refs/datasets/).
calls <- list(
  dist_claus_bdi_JT = quote(cs_distribution(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, better_is = "lower", rci_method = "JT")),
  dist_claus_hamd_JT = quote(cs_distribution(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, better_is = "lower", rci_method = "JT")),
  dist_jac_gds_JT = quote(cs_distribution(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "JT")),
  dist_jac_das_JT = quote(cs_distribution(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "JT")),
  dist_claus_bdi_GLN = quote(cs_distribution(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, better_is = "lower", rci_method = "GLN")),
  dist_claus_hamd_GLN = quote(cs_distribution(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, better_is = "lower", rci_method = "GLN")),
  dist_jac_gds_GLN = quote(cs_distribution(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "GLN")),
  dist_jac_das_GLN = quote(cs_distribution(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "GLN")),
  dist_claus_bdi_HLL = quote(cs_distribution(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, better_is = "lower", rci_method = "HLL")),
  dist_claus_hamd_HLL = quote(cs_distribution(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, better_is = "lower", rci_method = "HLL")),
  dist_jac_gds_HLL = quote(cs_distribution(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "HLL")),
  dist_jac_das_HLL = quote(cs_distribution(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "HLL")),
  dist_claus_bdi_EN = quote(cs_distribution(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, better_is = "lower", rci_method = "EN")),
  dist_claus_hamd_EN = quote(cs_distribution(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, better_is = "lower", rci_method = "EN")),
  dist_jac_gds_EN = quote(cs_distribution(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "EN")),
  dist_jac_das_EN = quote(cs_distribution(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "EN")),
  dist_claus_bdi_NK = quote(cs_distribution(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, reliability_post = 0.801, better_is = "lower", rci_method = "NK")),
  dist_claus_hamd_NK = quote(cs_distribution(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, reliability_post = 0.8, better_is = "lower", rci_method = "NK")),
  dist_jac_gds_NK = quote(cs_distribution(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, reliability_post = 0.85, better_is = "lower", rci_method = "NK")),
  dist_jac_das_NK = quote(cs_distribution(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, reliability_post = 0.85, better_is = "higher", rci_method = "NK")),
  dist_claus_bdi_HA = quote(cs_distribution(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, better_is = "lower", rci_method = "HA")),
  dist_claus_hamd_HA = quote(cs_distribution(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, better_is = "lower", rci_method = "HA")),
  dist_jac_gds_HA = quote(cs_distribution(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "HA")),
  dist_jac_das_HA = quote(cs_distribution(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "HA")),
  dist_claus_hamd_NK_relpost050 = quote(cs_distribution(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, reliability_post = 0.5, better_is = "lower", rci_method = "NK")),
  dist_claus_bdi_JT_by_treatment = quote(cs_distribution(claus_2020, id, time, bdi, pre = 1, post = 4, group = treatment, reliability = 0.801, better_is = "lower", rci_method = "JT")),
  dist_claus_bdi_HLM = quote(cs_distribution(claus_2020, id, time, bdi, better_is = "lower", rci_method = "HLM")),
  dist_claus_hamd_HLM = quote(cs_distribution(claus_2020, id, time, hamd, better_is = "lower", rci_method = "HLM")),
  dist_anxiety_complete_HLM = quote(cs_distribution(anxiety_complete, subject, measurement, anxiety, better_is = "lower", rci_method = "HLM")),
  dist_anxiety_HLM = quote(cs_distribution(anxiety, subject, measurement, anxiety, better_is = "lower", rci_method = "HLM")),
  stat_claus_bdi_JT_a = quote(cs_statistical(claus_2020, id, time, bdi, pre = 1, post = 4, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", cutoff_method = "JT", cutoff_type = "a")),
  stat_claus_hamd_JT_a = quote(cs_statistical(claus_2020, id, time, hamd, pre = 1, post = 4, m_functional = 8, sd_functional = 8, better_is = "lower", cutoff_method = "JT", cutoff_type = "a")),
  stat_claus_bdi_JT_b = quote(cs_statistical(claus_2020, id, time, bdi, pre = 1, post = 4, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", cutoff_method = "JT", cutoff_type = "b")),
  stat_claus_hamd_JT_b = quote(cs_statistical(claus_2020, id, time, hamd, pre = 1, post = 4, m_functional = 8, sd_functional = 8, better_is = "lower", cutoff_method = "JT", cutoff_type = "b")),
  stat_claus_bdi_JT_c = quote(cs_statistical(claus_2020, id, time, bdi, pre = 1, post = 4, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", cutoff_method = "JT", cutoff_type = "c")),
  stat_claus_hamd_JT_c = quote(cs_statistical(claus_2020, id, time, hamd, pre = 1, post = 4, m_functional = 8, sd_functional = 8, better_is = "lower", cutoff_method = "JT", cutoff_type = "c")),
  stat_claus_bdi_HA_c = quote(cs_statistical(claus_2020, id, time, bdi, pre = 1, post = 4, m_functional = 7.69, sd_functional = 7.52, reliability = 0.801, better_is = "lower", cutoff_method = "HA", cutoff_type = "c")),
  stat_claus_hamd_HA_c = quote(cs_statistical(claus_2020, id, time, hamd, pre = 1, post = 4, m_functional = 8, sd_functional = 8, reliability = 0.8, better_is = "lower", cutoff_method = "HA", cutoff_type = "c")),
  stat_jac_gds_JT_a = quote(cs_statistical(jacobson_1989, subject, time, gds, pre = "pre", post = "post", better_is = "lower", cutoff_method = "JT", cutoff_type = "a")),
  stat_jac_das_JT_a = quote(cs_statistical(jacobson_1989, subject, time, das, pre = "pre", post = "post", better_is = "higher", cutoff_method = "JT", cutoff_type = "a")),
  stat_claus_bdi_JT_c_by_treatment = quote(cs_statistical(claus_2020, id, time, bdi, pre = 1, post = 4, group = treatment, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", cutoff_method = "JT", cutoff_type = "c")),
  comb_claus_bdi_JT_a = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "JT", cutoff_type = "a")),
  comb_claus_hamd_JT_a = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "JT", cutoff_type = "a")),
  comb_claus_bdi_JT_c = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "JT", cutoff_type = "c")),
  comb_claus_hamd_JT_c = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "JT", cutoff_type = "c")),
  comb_jac_gds_JT_a = quote(cs_combined(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "JT", cutoff_type = "a")),
  comb_jac_das_JT_a = quote(cs_combined(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "JT", cutoff_type = "a")),
  comb_claus_bdi_GLN_a = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "GLN", cutoff_type = "a")),
  comb_claus_hamd_GLN_a = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "GLN", cutoff_type = "a")),
  comb_claus_bdi_GLN_c = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "GLN", cutoff_type = "c")),
  comb_claus_hamd_GLN_c = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "GLN", cutoff_type = "c")),
  comb_jac_gds_GLN_a = quote(cs_combined(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "GLN", cutoff_type = "a")),
  comb_jac_das_GLN_a = quote(cs_combined(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "GLN", cutoff_type = "a")),
  comb_claus_bdi_HLL_a = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "HLL", cutoff_type = "a")),
  comb_claus_hamd_HLL_a = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "HLL", cutoff_type = "a")),
  comb_claus_bdi_HLL_c = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "HLL", cutoff_type = "c")),
  comb_claus_hamd_HLL_c = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "HLL", cutoff_type = "c")),
  comb_jac_gds_HLL_a = quote(cs_combined(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "HLL", cutoff_type = "a")),
  comb_jac_das_HLL_a = quote(cs_combined(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "HLL", cutoff_type = "a")),
  comb_claus_bdi_EN_a = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "EN", cutoff_type = "a")),
  comb_claus_hamd_EN_a = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "EN", cutoff_type = "a")),
  comb_claus_bdi_EN_c = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "EN", cutoff_type = "c")),
  comb_claus_hamd_EN_c = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "EN", cutoff_type = "c")),
  comb_jac_gds_EN_a = quote(cs_combined(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "EN", cutoff_type = "a")),
  comb_jac_das_EN_a = quote(cs_combined(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "EN", cutoff_type = "a")),
  comb_claus_bdi_NK_a = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "NK", cutoff_type = "a", reliability_post = 0.801)),
  comb_claus_hamd_NK_a = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "NK", cutoff_type = "a", reliability_post = 0.8)),
  comb_claus_bdi_NK_c = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "NK", cutoff_type = "c", reliability_post = 0.801)),
  comb_claus_hamd_NK_c = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "NK", cutoff_type = "c", reliability_post = 0.8)),
  comb_jac_gds_NK_a = quote(cs_combined(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "NK", cutoff_type = "a", reliability_post = 0.85)),
  comb_jac_das_NK_a = quote(cs_combined(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "NK", cutoff_type = "a", reliability_post = 0.85)),
  comb_claus_bdi_HA_a = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "HA", cutoff_type = "a")),
  comb_claus_hamd_HA_a = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "HA", cutoff_type = "a")),
  comb_claus_bdi_HA_c = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "HA", cutoff_type = "c")),
  comb_claus_hamd_HA_c = quote(cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8, sd_functional = 8, better_is = "lower", rci_method = "HA", cutoff_type = "c")),
  comb_jac_gds_HA_a = quote(cs_combined(jacobson_1989, subject, time, gds, pre = "pre", post = "post", reliability = 0.85, better_is = "lower", rci_method = "HA", cutoff_type = "a")),
  comb_jac_das_HA_a = quote(cs_combined(jacobson_1989, subject, time, das, pre = "pre", post = "post", reliability = 0.85, better_is = "higher", rci_method = "HA", cutoff_type = "a")),
  comb_claus_bdi_HLM_c = quote(cs_combined(claus_2020, id, time, bdi, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "HLM", cutoff_type = "c")),
  comb_anxiety_complete_HLM_c = quote(cs_combined(anxiety_complete, subject, measurement, anxiety, m_functional = 8, sd_functional = 4, better_is = "lower", rci_method = "HLM", cutoff_type = "c")),
  comb_claus_bdi_JT_c_by_treatment = quote(cs_combined(claus_2020, id, time, bdi, pre = 1, post = 4, group = treatment, reliability = 0.801, m_functional = 7.69, sd_functional = 7.52, better_is = "lower", rci_method = "JT", cutoff_type = "c")),
  pct_claus_bdi_50 = quote(cs_percentage(claus_2020, id, time, bdi, pre = 1, post = 4, pct_improvement = 0.5, better_is = "lower")),
  pct_claus_bdi_50_20 = quote(cs_percentage(claus_2020, id, time, bdi, pre = 1, post = 4, pct_improvement = 0.5, pct_deterioration = 0.2, better_is = "lower")),
  pct_jac_das_25 = quote(cs_percentage(jacobson_1989, subject, time, das, pre = "pre", post = "post", pct_improvement = 0.25, better_is = "higher"))
)

# Columns kept from cs_get_augmented_data(), in this order (a method has a subset of them).
PATIENT_COLUMNS <- c("id", "pre", "post", "change", "rci", "improved", "deteriorated", "unchanged",
                     "category", "group", "n", "clinical_pre", "functional_post", "cs_indiv",
                     "clinical_post", "recovered", "harmed", "pct_change")

run_call <- function(expr) {
  messages <- character()
  note <- function(cond) messages <<- c(messages, gsub("\\s+", " ", trimws(conditionMessage(cond))))
  value <- tryCatch(
    withCallingHandlers(
      eval(expr, envir = globalenv()),
      message = function(m) { note(m); invokeRestart("muffleMessage") },
      warning = function(w) { note(w); invokeRestart("muffleWarning") }
    ),
    error = function(e) { note(e); NULL }
  )
  list(value = value, status = if (is.null(value)) "error" else "ok",
       messages = paste(messages, collapse = " || "))
}

# Every length-1 atomic element of the result object, nested names joined with ".";
# data frames with more than one row, the data sets and the summary tables are skipped.
flatten_scalars <- function(x, prefix = "") {
  rows <- list()
  for (name in names(x)) {
    if (prefix == "" && name %in% c("datasets", "summary_table")) next
    item <- x[[name]]
    key <- paste0(prefix, name)
    if (is.data.frame(item)) {
      if (nrow(item) != 1L) next
      item <- as.list(item)
    }
    if (isS4(item)) next
    if (is.list(item)) {
      rows <- c(rows, list(flatten_scalars(item, paste0(key, "."))))
    } else if (is.atomic(item) && length(item) == 1L) {
      rows <- c(rows, list(data.frame(name = key, value = fmt_value(item), stringsAsFactors = FALSE)))
    }
  }
  do.call(rbind, rows)
}

# The lmer fit inside an HLM result (searched for in the nested lists), or NULL.
find_lmer <- function(x) {
  if (inherits(x, "merMod")) return(x)
  if (is.list(x) && !is.data.frame(x)) for (item in x) {
    found <- find_lmer(item)
    if (!is.null(found)) return(found)
  }
  NULL
}

hlm_scalars <- function(fit) {
  fe <- lme4::fixef(fit)
  vc <- as.data.frame(lme4::VarCorr(fit))
  vc_name <- ifelse(is.na(vc$var1), vc$grp,
                    ifelse(is.na(vc$var2), paste(vc$grp, vc$var1, sep = ":"),
                           paste(vc$grp, vc$var1, vc$var2, sep = ":")))
  data.frame(
    name = c("hlm.reml_criterion", paste0("hlm.fixef.", names(fe)), paste0("hlm.vcov.", vc_name)),
    value = fmt_double(c(lme4::REMLcrit(fit), unname(fe), vc$vcov)),
    stringsAsFactors = FALSE
  )
}

call_rows <- list(); patient_rows <- list(); summary_rows <- list(); scalar_rows <- list()
for (call_id in names(calls)) {
  expr <- calls[[call_id]]
  result <- run_call(expr)
  call_rows[[call_id]] <- data.frame(
    call_id = call_id, status = result$status,
    call = paste(deparse(expr, width.cutoff = 500L), collapse = " "),
    messages = result$messages, stringsAsFactors = FALSE
  )
  if (result$status != "ok") next
  res <- result$value

  aug <- as.data.frame(cs_get_augmented_data(res), stringsAsFactors = FALSE)
  aug <- aug[intersect(PATIENT_COLUMNS, names(aug))]
  aug$id <- as.character(aug$id)
  if ("group" %in% names(aug)) aug$group <- as.character(aug$group)
  patient_rows[[call_id]] <- data.frame(call_id = call_id, aug, stringsAsFactors = FALSE)

  # = cs_get_summary(res) and, for HA combined results, cs_get_summary(res, which = "group"),
  # read from the object directly: combined results keep a list of tables (individual, group,
  # categories), the other approaches one table.
  tables <- res[["summary_table"]]
  tables <- if (is.data.frame(tables)) list(individual_level_summary = tables)
            else if (identical(res[["method"]], "HA")) tables[c("individual_level_summary", "group_level_summary")]
            else tables["individual_level_summary"]
  for (level in names(tables)) {
    tab <- as.data.frame(tables[[level]], stringsAsFactors = FALSE)
    if ("group" %in% names(tab)) tab$group <- as.character(tab$group)
    tab$category <- as.character(tab$category)
    summary_rows[[paste(call_id, level)]] <- data.frame(call_id = call_id, level = level, tab,
                                                       stringsAsFactors = FALSE)
  }

  scalars <- flatten_scalars(unclass(res))
  fit <- find_lmer(unclass(res))
  if (!is.null(fit)) scalars <- rbind(scalars, hlm_scalars(fit))
  scalar_rows[[call_id]] <- data.frame(call_id = call_id, scalars, stringsAsFactors = FALSE)
}

bind <- function(rows, columns) {
  out <- dplyr::bind_rows(rows)
  as.data.frame(out[intersect(columns, names(out))], stringsAsFactors = FALSE)
}
write_ref_csv(do.call(rbind, call_rows), file.path(out_dir, "cs_calls.csv"))
write_ref_csv(bind(patient_rows, c("call_id", PATIENT_COLUMNS)),
              file.path(out_dir, "cs_patient_results.csv"))
write_ref_csv(bind(summary_rows, c("call_id", "level", "category", "n", "percent", "group",
                                   "percent_by_group")),
              file.path(out_dir, "cs_summary.csv"))
write_ref_csv(do.call(rbind, scalar_rows), file.path(out_dir, "cs_scalars.csv"))
write_ref_csv(package_versions(c("clinicalsignificance", "dplyr", "tidyr", "tibble", "rlang", "lme4",
                                 "Matrix", "insight", "bayestestR", "BayesFactor")),
              file.path(out_dir, "cs_versions.csv"))
message("wrote ", out_dir)
