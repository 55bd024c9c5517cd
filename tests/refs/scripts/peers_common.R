# Helpers shared by the peers_*.R scripts in this folder (sourced by them; not run on its own).
#
# CSV conventions of every reference file under tests/refs/ (see tests/refs/README.md):
#   header row; no row names; character and factor columns quoted (factors written as their
#   labels), and the header quoted only when the table has at least one such column; missing
#   value = empty field; logicals TRUE/FALSE; doubles written with the shortest of 15, 16 or 17
#   significant digits that reads back as the identical IEEE double.

# Where this script lives, so that the default output folder is tests/refs/ of the checkout.
peers_script_dir <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  file <- sub("^--file=", "", args[grepl("^--file=", args)])
  if (length(file) == 1L) return(dirname(normalizePath(file)))
  normalizePath(".")
}

# Output root: first command-line argument, else tests/refs/ (the parent of scripts/).
peers_out_root <- function() {
  args <- commandArgs(trailingOnly = TRUE)
  root <- if (length(args) >= 1L) args[[1]] else dirname(peers_script_dir())
  dir.create(root, recursive = TRUE, showWarnings = FALSE)
  normalizePath(root)
}

# Shortest round-trip text of doubles: 15 significant digits, else 16, else 17.
fmt_double <- function(x) {
  out <- rep(NA_character_, length(x))
  ok <- !is.na(x)
  for (digits in 15:17) {
    todo <- ok & is.na(out)
    if (!any(todo)) break
    s <- sprintf(paste0("%.", digits, "g"), x[todo])
    exact <- as.numeric(s) == x[todo]
    if (digits == 17L) exact[] <- TRUE
    idx <- which(todo)[exact]
    out[idx] <- s[exact]
  }
  out
}

# Scalar (or vector) of any atomic type as text, doubles in the round-trip format.
fmt_value <- function(x) {
  if (is.factor(x)) return(as.character(x))
  if (is.double(x)) return(fmt_double(x))
  as.character(x)
}

# Write a data frame with the conventions above.
write_ref_csv <- function(df, path) {
  df <- as.data.frame(df, stringsAsFactors = FALSE)
  text_cols <- which(vapply(df, function(col) is.character(col) || is.factor(col), NA))
  for (j in seq_along(df)) {
    col <- df[[j]]
    if (is.factor(col)) df[[j]] <- as.character(col)
    else if (is.double(col)) df[[j]] <- fmt_double(col)
  }
  quote <- if (length(text_cols)) unname(text_cols) else FALSE
  utils::write.csv(df, path, row.names = FALSE, na = "", quote = quote)
  invisible(path)
}

# Check that a written CSV reads back equal to the data frame (values and NA pattern).
check_roundtrip <- function(df, path) {
  back <- utils::read.csv(path, stringsAsFactors = FALSE, na.strings = "", check.names = FALSE)
  df <- as.data.frame(df, stringsAsFactors = FALSE)
  stopifnot(identical(names(back), names(df)), nrow(back) == nrow(df))
  for (j in seq_along(df)) {
    a <- df[[j]]; b <- back[[j]]
    if (is.factor(a)) a <- as.character(a)
    if (is.numeric(a)) {
      stopifnot(identical(is.na(a), is.na(b)), all(as.numeric(a) == b, na.rm = TRUE))
    } else {
      stopifnot(identical(is.na(a), is.na(b)), all(as.character(a) == as.character(b), na.rm = TRUE))
    }
  }
  invisible(TRUE)
}

# The versions of the named packages as a data frame (missing if not installed).
package_versions <- function(pkgs) {
  data.frame(package = pkgs,
             version = vapply(pkgs, function(p) tryCatch(as.character(utils::packageVersion(p)),
                                                         error = function(e) NA_character_), ""),
             stringsAsFactors = FALSE, row.names = NULL)
}

# Warn (do not stop) when an installed package differs from the version the references came from.
expect_version <- function(pkg, version) {
  have <- as.character(utils::packageVersion(pkg))
  if (have != version) {
    warning(sprintf("%s %s is installed; the stored references were made with %s", pkg, have, version),
            call. = FALSE, immediate. = TRUE)
  }
  invisible(have)
}
