#!/usr/bin/env Rscript
# Regenerates the suddengains reference files of tests/refs/suddengains/: one CSV per data-frame
# result (file names in the call list below), sg_scalars.csv (scalar results, long format),
# sg_calls.csv (every call: id, output file, size, exact call text, messages the package
# emitted), sg_versions.csv and sg_variables.R. Timings (timings_suddengains.csv) are not
# regenerated here; tests/refs/README.md describes how they were measured.
#
# Expects: R 4.2.2, suddengains 0.7.2 (with dplyr 1.1.0, tidyr 1.3.0, tibble 3.1.8, rlang 1.0.6,
# psych 2.2.9, naniar 1.0.0 as when the references were made). Other versions run but warn.
#
# Run from the repository root:
#   Rscript tests/refs/scripts/peers_suddengains.R              # writes into tests/refs/suddengains/
#   Rscript tests/refs/scripts/peers_suddengains.R /tmp/refs    # writes into /tmp/refs/suddengains/
# With a private library: R_LIBS=/path/to/lib Rscript tests/refs/scripts/peers_suddengains.R /tmp/refs

local({
  args <- commandArgs(trailingOnly = FALSE)
  file <- sub("^--file=", "", args[grepl("^--file=", args)])
  here <- if (length(file) == 1L) dirname(normalizePath(file)) else "tests/refs/scripts"
  source(file.path(here, "peers_common.R"), local = globalenv())
})

suppressPackageStartupMessages(library(suddengains))
expect_version("suddengains", "0.7.2")
out_dir <- file.path(peers_out_root(), "suddengains")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# The package data sets (= tests/refs/datasets/suddengains__*.csv).
data("sgdata", package = "suddengains")
data("sgdata_bad", package = "suddengains")

# Variable lists used in the calls (also written to sg_variables.R).
variables <- c(
  "# sg_vars / sg_vars0 / bad_vars used in sg_calls.csv:",
  'sg_vars  <- c("bdi_s1", "bdi_s2", "bdi_s3", "bdi_s4", "bdi_s5", "bdi_s6", "bdi_s7", "bdi_s8", "bdi_s9", "bdi_s10", "bdi_s11", "bdi_s12")',
  'sg_vars0 <- c("bdi_s0", "bdi_s1", "bdi_s2", "bdi_s3", "bdi_s4", "bdi_s5", "bdi_s6", "bdi_s7", "bdi_s8", "bdi_s9", "bdi_s10", "bdi_s11", "bdi_s12")',
  'bad_vars <- c("bdi1", "wk2bdi", "bdi.S3", "bdis4", "bdi_session5", "bdi_weekSix", "beck.dep.inv_sess7", "weeeek8bdi", "bdi_nine", "bdii10", "bDi11", "bdi_s12_end")'
)
eval(parse(text = variables))
writeLines(variables, file.path(out_dir, "sg_variables.R"))

# Every call, in the order of sg_calls.csv. Data-frame results go to `file`; the results of the
# calls with file = "sg_scalars.csv" are lists of scalars and go to that long table.
calls <- list(
  list(id = "identify_sg_default", file = "sg_identify_sg_default.csv", expr = quote(identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = 7))),
  list(id = "identify_sg_default_details", file = "sg_identify_sg_default_details.csv", expr = quote(identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = 7, crit123_details = TRUE))),
  list(id = "identify_sg_fixed2776_details", file = "sg_identify_sg_fixed2776_details.csv", expr = quote(identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = 7, sg_crit3_adjust = FALSE, sg_crit3_critical_value = 2.776, crit123_details = TRUE))),
  list(id = "identify_sg_alpha01_details", file = "sg_identify_sg_alpha01_details.csv", expr = quote(identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = 7, sg_crit3_alpha = 0.01, crit123_details = TRUE))),
  list(id = "identify_sg_1to2_details", file = "sg_identify_sg_1to2_details.csv", expr = quote(identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars0, sg_crit1_cutoff = 7, identify_sg_1to2 = TRUE, crit123_details = TRUE))),
  list(id = "identify_sg_crit12only_details", file = "sg_identify_sg_crit12only_details.csv", expr = quote(identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = 7, sg_crit2_pct = 0.25, sg_crit3 = FALSE, crit123_details = TRUE))),
  list(id = "identify_sg_sgdata_bad", file = "sg_identify_sg_sgdata_bad.csv", expr = quote(identify_sg(data = sgdata_bad, id_var_name = "id", sg_var_list = bad_vars, sg_crit1_cutoff = 7))),
  list(id = "identify_sl_default", file = "sg_identify_sl_default.csv", expr = quote(identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = -7))),
  list(id = "identify_sl_default_details", file = "sg_identify_sl_default_details.csv", expr = quote(identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = -7, crit123_details = TRUE))),
  list(id = "identify_sl_fixed2776_details", file = "sg_identify_sl_fixed2776_details.csv", expr = quote(identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = -7, sg_crit3_adjust = FALSE, sg_crit3_critical_value = 2.776, crit123_details = TRUE))),
  list(id = "identify_sl_crit2null_details", file = "sg_identify_sl_crit2null_details.csv", expr = quote(identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = -7, sg_crit2_pct = NULL, crit123_details = TRUE))),
  list(id = "identify_sl_crit2neg025_details", file = "sg_identify_sl_crit2neg025_details.csv", expr = quote(identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = -7, sg_crit2_pct = -0.25, crit123_details = TRUE))),
  list(id = "bysg_sg", file = "sg_bysg_sg.csv", expr = quote(create_bysg(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify = "sg"))),
  list(id = "bysg_sl", file = "sg_bysg_sl.csv", expr = quote(create_bysg(data = sgdata, sg_crit1_cutoff = -7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify = "sl"))),
  list(id = "byperson_sg_first", file = "sg_byperson_sg_first.csv", expr = quote(create_byperson(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify_sg_1to2 = FALSE, multiple_sg_select = "first", identify = "sg"))),
  list(id = "byperson_sg_last", file = "sg_byperson_sg_last.csv", expr = quote(create_byperson(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify_sg_1to2 = FALSE, multiple_sg_select = "last", identify = "sg"))),
  list(id = "byperson_sg_smallest", file = "sg_byperson_sg_smallest.csv", expr = quote(create_byperson(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify_sg_1to2 = FALSE, multiple_sg_select = "smallest", identify = "sg"))),
  list(id = "byperson_sg_largest", file = "sg_byperson_sg_largest.csv", expr = quote(create_byperson(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify_sg_1to2 = FALSE, multiple_sg_select = "largest", identify = "sg"))),
  list(id = "byperson_sl_first", file = "sg_byperson_sl_first.csv", expr = quote(create_byperson(data = sgdata, sg_crit1_cutoff = -7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify_sg_1to2 = FALSE, multiple_sg_select = "first", identify = "sl"))),
  list(id = "byperson_sl_largest", file = "sg_byperson_sl_largest.csv", expr = quote(create_byperson(data = sgdata, sg_crit1_cutoff = -7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify_sg_1to2 = FALSE, multiple_sg_select = "largest", identify = "sl"))),
  list(id = "select_cases_pattern", file = "sg_select_cases_pattern.csv", expr = quote(select_cases(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, method = "pattern", return_id_lgl = FALSE))),
  list(id = "select_cases_min_sess9", file = "sg_select_cases_min_sess9.csv", expr = quote(select_cases(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, method = "min_sess", min_sess_num = 9, return_id_lgl = TRUE))),
  list(id = "crit1_cutoff_sd10.5_rel0.931", file = "sg_scalars.csv", expr = quote(define_crit1_cutoff(sd = 10.5, reliability = 0.931))),
  list(id = "crit1_cutoff_sdbdi_s0_rel0.931", file = "sg_scalars.csv", expr = quote(define_crit1_cutoff(data_sd = sgdata$bdi_s0, reliability = 0.931))),
  list(id = "count_intervals_sgdata", file = "sg_scalars.csv", expr = quote(count_intervals(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, identify_sg_1to2 = FALSE))),
  list(id = "describe_bysg_sg", file = "sg_scalars.csv", expr = quote(describe_sg(data = create_bysg(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify = "sg"), sg_data_structure = "bysg"))),
  list(id = "describe_byperson_sg_first", file = "sg_scalars.csv", expr = quote(describe_sg(data = create_byperson(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", multiple_sg_select = "first", identify = "sg"), sg_data_structure = "byperson"))),
  list(id = "describe_bysg_sl", file = "sg_scalars.csv", expr = quote(describe_sg(data = create_bysg(data = sgdata, sg_crit1_cutoff = -7, id_var_name = "id", tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars, sg_measure_name = "bdi", identify = "sl"), sg_data_structure = "bysg")))
)

# Evaluate one call, collecting the messages the package emits.
run_call <- function(expr) {
  messages <- character()
  value <- withCallingHandlers(
    eval(expr, envir = globalenv()),
    message = function(m) {
      messages <<- c(messages, gsub("\\s+", " ", trimws(conditionMessage(m))))
      invokeRestart("muffleMessage")
    }
  )
  list(value = value, messages = paste(messages, collapse = " || "))
}

# Length-1 elements of a (nested) list as name/value rows.
flatten_scalars <- function(x, prefix = "") {
  rows <- list()
  for (name in names(x)) {
    item <- x[[name]]
    key <- paste0(prefix, name)
    if (is.data.frame(item) && nrow(item) == 1L) item <- as.list(item)
    if (is.list(item)) {
      rows <- c(rows, list(flatten_scalars(item, paste0(key, "."))))
    } else if (is.atomic(item) && length(item) == 1L) {
      rows <- c(rows, list(data.frame(name = key, value = fmt_value(item), stringsAsFactors = FALSE)))
    }
  }
  do.call(rbind, rows)
}

call_rows <- list()
scalar_rows <- list()
for (call in calls) {
  result <- run_call(call$expr)
  text <- paste(deparse(call$expr, width.cutoff = 500L), collapse = " ")
  if (call$file == "sg_scalars.csv") {
    scalars <- flatten_scalars(as.list(result$value))
    scalar_rows[[call$id]] <- data.frame(call_id = call$id, scalars, stringsAsFactors = FALSE)
    size <- c(nrow(scalars), NA_integer_)
  } else {
    out <- as.data.frame(result$value, stringsAsFactors = FALSE)
    write_ref_csv(out, file.path(out_dir, call$file))
    size <- dim(out)
  }
  call_rows[[call$id]] <- data.frame(call_id = call$id, file = call$file, nrow = size[1],
                                     ncol = size[2], call = text, messages = result$messages,
                                     stringsAsFactors = FALSE)
}
write_ref_csv(do.call(rbind, call_rows), file.path(out_dir, "sg_calls.csv"))
write_ref_csv(do.call(rbind, scalar_rows), file.path(out_dir, "sg_scalars.csv"))
write_ref_csv(package_versions(c("suddengains", "dplyr", "tidyr", "tibble", "rlang", "psych", "naniar")),
              file.path(out_dir, "sg_versions.csv"))
message("wrote ", out_dir)
