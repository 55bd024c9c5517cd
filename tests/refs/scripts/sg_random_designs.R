# Differential references: suddengains 0.7.2 on the randomised wide designs of
# sg_random_designs.py.
#
#   python tests/refs/scripts/sg_random_designs.py      # writes .../data/*.csv + designs.json
#   R_LIBS=<library with suddengains 0.7.2> Rscript tests/refs/scripts/sg_random_designs.R
#
# suddengains loops over every person x interval (about 12 ms each), so the whole run takes
# several minutes. To use two cores:
#   Rscript sg_random_designs.R --part <dir> d01_int63_cells d02_int27_tiny ...   (per process)
#   Rscript sg_random_designs.R --combine <dir>
#
# Writes tests/refs/suddengains_random/{sg_calls.csv, sg_identify.csv.gz, sg_bysg.csv,
# sg_byperson.csv.gz, sg_select_cases.csv.gz, sg_scalars.csv, sg_versions.csv}. Every call is
# evaluated exactly as written in the `call` column of sg_calls.csv, with the design's CSV bound
# to the design name (`read.csv(..., stringsAsFactors = FALSE)`) and its column list to
# `vars_<design>`, one design at a time.

suppressPackageStartupMessages({
  library(suddengains)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
source(file.path(dirname(script), "peers_common.R"))
root <- normalizePath(file.path(dirname(script), "..", "suddengains_random"))
data_dir <- file.path(root, "data")
meta <- fromJSON(file.path(data_dir, "designs.json"), simplifyVector = FALSE)
targs <- commandArgs(trailingOnly = TRUE)

q <- function(x) format(x, digits = 15)

# The calls of one design, as text.
design_calls <- function(name, m) {
  v <- paste0("vars_", name)
  c1 <- q(m$cutoffs[[1]]); c2 <- q(m$cutoffs[[2]])
  first <- m$sg_var_list[[1]]; last <- m$sg_var_list[[length(m$sg_var_list)]]
  id <- function(f, args) sprintf('%s(data = %s, id_var_name = "id", sg_var_list = %s, %s, crit123_details = TRUE)',
                                  f, name, v, args)
  out <- list(
    identify_sg_default = id("identify_sg", sprintf("sg_crit1_cutoff = %s", c1)),
    identify_sg_cut2_pct020 = id("identify_sg", sprintf("sg_crit1_cutoff = %s, sg_crit2_pct = 0.2", c2)),
    identify_sg_pct050 = id("identify_sg", sprintf("sg_crit1_cutoff = %s, sg_crit2_pct = 0.5", c1)),
    identify_sg_crit2null = id("identify_sg", sprintf("sg_crit1_cutoff = %s, sg_crit2_pct = NULL", c1)),
    identify_sg_alpha01 = id("identify_sg", sprintf("sg_crit1_cutoff = %s, sg_crit3_alpha = 0.01", c1)),
    identify_sg_fixed2776 = id("identify_sg", sprintf("sg_crit1_cutoff = %s, sg_crit3_adjust = FALSE, sg_crit3_critical_value = 2.776", c1)),
    identify_sg_fixed35_alpha01 = id("identify_sg", sprintf("sg_crit1_cutoff = %s, sg_crit3_alpha = 0.01, sg_crit3_adjust = FALSE, sg_crit3_critical_value = 3.5", c1)),
    identify_sg_crit12only = id("identify_sg", sprintf("sg_crit1_cutoff = %s, sg_crit3 = FALSE", c1)),
    identify_sg_1to2 = id("identify_sg", sprintf("sg_crit1_cutoff = %s, identify_sg_1to2 = TRUE", c1)),
    identify_sl_default = id("identify_sl", sprintf("sg_crit1_cutoff = -%s", c1)),
    identify_sl_pctneg025 = id("identify_sl", sprintf("sg_crit1_cutoff = -%s, sg_crit2_pct = -0.25", c1)),
    identify_sl_cut2_pctneg050_alpha01 = id("identify_sl", sprintf("sg_crit1_cutoff = -%s, sg_crit2_pct = -0.5, sg_crit3_alpha = 0.01", c2)),
    identify_sl_crit2null_fixed2776 = id("identify_sl", sprintf("sg_crit1_cutoff = -%s, sg_crit2_pct = NULL, sg_crit3_adjust = FALSE, sg_crit3_critical_value = 2.776", c1))
  )
  common <- sprintf('id_var_name = "id", tx_start_var_name = "%s", tx_end_var_name = "%s", sg_var_list = %s, sg_measure_name = "x"',
                    first, last, v)
  out$bysg_sg <- sprintf('create_bysg(data = %s, sg_crit1_cutoff = %s, %s, identify = "sg")', name, c1, common)
  out$bysg_sg_1to2 <- sprintf('create_bysg(data = %s, sg_crit1_cutoff = %s, %s, identify_sg_1to2 = TRUE, identify = "sg")', name, c1, common)
  out$bysg_sl_pctneg025 <- sprintf('create_bysg(data = %s, sg_crit1_cutoff = -%s, %s, sg_crit2_pct = -0.25, identify = "sl")', name, c1, common)
  for (sel in c("first", "last", "smallest", "largest")) {
    out[[paste0("byperson_sg_", sel)]] <- sprintf(
      'create_byperson(data = %s, sg_crit1_cutoff = %s, %s, multiple_sg_select = "%s", identify = "sg")', name, c1, common, sel)
  }
  for (sel in c("first", "smallest", "largest")) {
    out[[paste0("byperson_sl_pctneg025_", sel)]] <- sprintf(
      'create_byperson(data = %s, sg_crit1_cutoff = -%s, %s, sg_crit2_pct = -0.25, multiple_sg_select = "%s", identify = "sl")',
      name, c1, common, sel)
  }
  out$select_cases_pattern <- sprintf('select_cases(data = %s, id_var_name = "id", sg_var_list = %s, method = "pattern", return_id_lgl = TRUE)', name, v)
  k <- max(2L, as.integer(ceiling(0.6 * length(m$sg_var_list))))
  out[[sprintf("select_cases_min_sess%d", k)]] <- sprintf('select_cases(data = %s, id_var_name = "id", sg_var_list = %s, method = "min_sess", min_sess_num = %d, return_id_lgl = TRUE)', name, v, k)
  out$crit1_cutoff_data_sd <- sprintf("define_crit1_cutoff(data_sd = %s$%s, reliability = %s)", name, first, q(m$reliability))
  out
}

run_call <- function(text, env) {
  msgs <- character(); warns <- character()
  value <- tryCatch(
    withCallingHandlers(eval(parse(text = text), envir = env),
                        message = function(c) { msgs <<- c(msgs, trimws(conditionMessage(c))); invokeRestart("muffleMessage") },
                        warning = function(c) { warns <<- c(warns, conditionMessage(c)); invokeRestart("muffleWarning") }),
    error = function(e) structure(conditionMessage(e), class = "sg_error"))
  list(value = value, messages = paste(msgs, collapse = " || "), warnings = paste(warns, collapse = " || "))
}

# Wide identify output -> long (id, interval, crit1, crit2, crit3, event).
identify_long <- function(res) {
  res <- as.data.frame(res)
  ev <- grep("^s[gl]_\\d+to\\d+$", names(res), value = TRUE)
  labels <- sub("^s[gl]_", "", ev)
  pre <- sub("^s[gl]_", "", names(res))
  out <- do.call(rbind, lapply(seq_along(ev), function(j) {
    lab <- labels[j]; pfx <- substr(ev[j], 1, 2)
    data.frame(id = res$id, interval = lab,
               crit1 = res[[paste0(pfx, "_crit1_", lab)]], crit2 = res[[paste0(pfx, "_crit2_", lab)]],
               crit3 = res[[paste0(pfx, "_crit3_", lab)]], event = res[[ev[j]]], stringsAsFactors = FALSE)
  }))
  out
}

describe_rows <- function(call_id, res) {
  d <- unlist(res)
  data.frame(call_id = call_id, name = names(d), value = fmt_double(as.numeric(d)), stringsAsFactors = FALSE)
}

run_design <- function(name) {
  m <- meta[[name]]
  env <- new.env(parent = globalenv())
  assign(name, read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE), envir = env)
  assign(paste0("vars_", name), unlist(m$sg_var_list), envir = env)
  calls <- design_calls(name, m)
  rec <- list(calls = list(), identify = list(), bysg = list(), byperson = list(), select = list(), scalars = list())
  for (cid in names(calls)) {
    full_id <- paste0(name, "__", cid)
    t0 <- proc.time()[["elapsed"]]
    r <- run_call(calls[[cid]], env)
    elapsed <- proc.time()[["elapsed"]] - t0
    ok <- !inherits(r$value, "sg_error")
    fun <- sub("\\(.*", "", calls[[cid]])
    nrow_out <- NA_integer_
    if (ok) {
      v <- r$value
      if (fun %in% c("identify_sg", "identify_sl")) {
        rec$identify[[full_id]] <- cbind(call_id = full_id, identify_long(v), stringsAsFactors = FALSE)
        nrow_out <- nrow(v)
      } else if (fun == "create_bysg") {
        v <- as.data.frame(v)
        keep <- c("id", "id_sg", grep("^sg_", names(v), value = TRUE))
        rec$bysg[[full_id]] <- cbind(call_id = full_id, v[, keep], stringsAsFactors = FALSE)
        rec$scalars[[paste0(full_id, "_describe")]] <- describe_rows(
          paste0(full_id, "__describe_sg"), describe_sg(v, sg_data_structure = "bysg"))
        nrow_out <- nrow(v)
      } else if (fun == "create_byperson") {
        v <- as.data.frame(v)
        keep <- c("id", "id_sg", grep("^sg_", names(v), value = TRUE))
        rec$byperson[[full_id]] <- cbind(call_id = full_id, v[, keep], stringsAsFactors = FALSE)
        rec$scalars[[paste0(full_id, "_describe")]] <- describe_rows(
          paste0(full_id, "__describe_sg"), describe_sg(v, sg_data_structure = "byperson"))
        nrow_out <- nrow(v)
      } else if (fun == "select_cases") {
        rec$select[[full_id]] <- cbind(call_id = full_id, as.data.frame(v), stringsAsFactors = FALSE)
        nrow_out <- nrow(v)
      } else if (fun == "define_crit1_cutoff") {
        rec$scalars[[full_id]] <- describe_rows(full_id, v)
        nrow_out <- 1L
      }
    }
    rec$calls[[full_id]] <- data.frame(
      call_id = full_id, design = name, call_name = cid, fun = fun, status = if (ok) "ok" else "error",
      nrow = nrow_out, call = calls[[cid]], messages = r$messages, warnings = r$warnings,
      error = if (ok) "" else as.character(r$value), elapsed = round(elapsed, 2), stringsAsFactors = FALSE)
    cat(sprintf("%s %s %.1fs\n", full_id, if (ok) "ok" else paste("ERROR:", r$value), elapsed))
  }
  rec
}

bind <- function(parts, what) {
  rows <- unlist(lapply(parts, function(p) p[[what]]), recursive = FALSE)
  if (!length(rows)) return(NULL)
  cols <- unique(unlist(lapply(rows, names)))
  rows <- lapply(rows, function(d) { for (c in setdiff(cols, names(d))) d[[c]] <- NA; d[, cols] })
  out <- do.call(rbind, rows); rownames(out) <- NULL; out
}

write_all <- function(parts) {
  parts <- parts[names(meta)[names(meta) %in% names(parts)]]
  calls <- bind(parts, "calls")
  squish <- function(x) gsub("\\s+", " ", trimws(x))  # rlang's multi-line messages on one line
  for (col in c("messages", "warnings", "error")) calls[[col]] <- squish(calls[[col]])
  calls$elapsed <- NULL  # timings vary from run to run
  write_ref_csv(calls, file.path(root, "sg_calls.csv"))
  gz <- function(df, file) {
    path <- file.path(root, file); tmp <- tempfile(fileext = ".csv")
    write_ref_csv(df, tmp); check_roundtrip(df, tmp)
    con <- gzfile(path, "wb"); writeLines(readLines(tmp), con); close(con)
  }
  gz(bind(parts, "identify"), "sg_identify.csv.gz")
  gz(bind(parts, "bysg"), "sg_bysg.csv.gz")
  gz(bind(parts, "byperson"), "sg_byperson.csv.gz")
  gz(bind(parts, "select"), "sg_select_cases.csv.gz")
  write_ref_csv(bind(parts, "scalars"), file.path(root, "sg_scalars.csv"))
  versions <- data.frame(package = "R", version = paste(R.version$major, R.version$minor, sep = "."))
  write_ref_csv(rbind(versions, package_versions(c("suddengains", "dplyr", "tidyr", "tibble", "rlang", "stringr", "psych"))),
                file.path(root, "sg_versions.csv"))
}

expect_version("suddengains", "0.7.2")
if (length(targs) >= 1 && targs[[1]] == "--part") {
  dir.create(targs[[2]], showWarnings = FALSE, recursive = TRUE)
  for (name in targs[-(1:2)]) saveRDS(run_design(name), file.path(targs[[2]], paste0(name, ".rds")))
} else if (length(targs) >= 1 && targs[[1]] == "--combine") {
  files <- file.path(targs[[2]], paste0(names(meta), ".rds"))
  stopifnot(all(file.exists(files)))
  parts <- setNames(lapply(files, readRDS), names(meta))
  write_all(parts)
} else {
  parts <- setNames(lapply(names(meta), run_design), names(meta))
  write_all(parts)
}
