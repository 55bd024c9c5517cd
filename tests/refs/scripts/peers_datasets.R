#!/usr/bin/env Rscript
# Exports the peer packages' data sets to tests/refs/datasets/ (one CSV per data set, every row
# and column as shipped) and writes datasets/MANIFEST.csv for the clinicalsignificance and
# suddengains data sets.
#
#   clinicalsignificance 3.0.0: every data set of the package -> clinicalsignificance__<name>.csv
#   suddengains 0.7.2:          sgdata, sgdata_bad            -> suddengains__<name>.csv
#   lme4 1.1.31:                sleepstudy                    -> lme4__sleepstudy.csv (not in MANIFEST)
#
# Expects: R 4.2.2 with clinicalsignificance 3.0.0, suddengains 0.7.2 and lme4 1.1.31 installed
# (other versions warn). Run from the repository root:
#   Rscript tests/refs/scripts/peers_datasets.R                  # all three packages -> tests/refs/datasets/
#   Rscript tests/refs/scripts/peers_datasets.R /tmp/refs        # into /tmp/refs/datasets/ instead
#   Rscript tests/refs/scripts/peers_datasets.R /tmp/refs lme4   # only the named packages
# MANIFEST.csv is rewritten only when both clinicalsignificance and suddengains are exported.
# Each file is read back and compared with the package object before the script moves on.

local({
  args <- commandArgs(trailingOnly = FALSE)
  file <- sub("^--file=", "", args[grepl("^--file=", args)])
  here <- if (length(file) == 1L) dirname(normalizePath(file)) else "tests/refs/scripts"
  source(file.path(here, "peers_common.R"), local = globalenv())
})

expected <- c(clinicalsignificance = "3.0.0", suddengains = "0.7.2", lme4 = "1.1.31")
args <- commandArgs(trailingOnly = TRUE)
packages <- if (length(args) >= 2L) args[-1] else names(expected)
stopifnot(all(packages %in% names(expected)))
out_dir <- file.path(peers_out_root(), "datasets")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

datasets_of <- function(pkg) {
  if (pkg == "lme4") return("sleepstudy")
  if (pkg == "suddengains") return(c("sgdata", "sgdata_bad"))
  sort(utils::data(package = pkg)$results[, "Item"])
}

manifest <- list()
for (pkg in packages) {
  if (!requireNamespace(pkg, quietly = TRUE)) stop("package ", pkg, " is not installed")
  expect_version(pkg, expected[[pkg]])
  version <- as.character(utils::packageVersion(pkg))
  for (name in datasets_of(pkg)) {
    env <- new.env()
    utils::data(list = name, package = pkg, envir = env)
    x <- as.data.frame(get(name, envir = env), stringsAsFactors = FALSE)
    file <- paste0(pkg, "__", name, ".csv")
    path <- file.path(out_dir, file)
    write_ref_csv(x, path)
    check_roundtrip(x, path)
    plain <- lapply(x, function(col) if (is.factor(col)) as.character(col) else col)
    types <- vapply(plain, function(col) class(col)[1], "")
    factors <- Filter(is.factor, x)
    levels_text <- paste(vapply(names(factors), function(n)
      sprintf("%s=[%s]", n, paste(levels(factors[[n]]), collapse = "|")), ""), collapse = "; ")
    manifest[[file]] <- data.frame(
      file = file, package = pkg, package_version = version, dataset = name,
      nrow = nrow(x), ncol = ncol(x),
      columns = paste(sprintf("%s:%s", names(types), types), collapse = "; "),
      factor_levels = levels_text, n_missing = sum(is.na(x)), stringsAsFactors = FALSE
    )
    message("wrote ", path)
  }
}

if (all(c("clinicalsignificance", "suddengains") %in% packages)) {
  m <- do.call(rbind, manifest[!startsWith(names(manifest), "lme4__")])
  m <- m[order(m$file, method = "radix"), ]  # C-locale order of the file names
  rownames(m) <- NULL
  write_ref_csv(m, file.path(out_dir, "MANIFEST.csv"))
  message("wrote ", file.path(out_dir, "MANIFEST.csv"))
} else {
  message("MANIFEST.csv not rewritten (it needs both clinicalsignificance and suddengains)")
}
