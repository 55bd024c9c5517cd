# FunnelPlotR 0.6.0 references for tests/test_funnel.py.
#
# Reads tests/refs/funnelplotr/calls.csv and designs/*.csv (made by funnel_designs.py) and, for
# each call, runs
#
#   fp <- funnel_plot(d, numerator = numerator, denominator = denominator, group = group,
#                     data_type = <data_type>, limit = <limit>, sr_method = <sr_method>,
#                     trim_by = <trim_by>, draw_adjusted = <od_adjust>,
#                     draw_unadjusted = !<od_adjust>)
#
# (draw_unadjusted = TRUE when draw_adjusted = FALSE, otherwise FunnelPlotR flags no outliers)
# and writes source_data(fp) (all columns but the constant target_transformed and highlight,
# and the limit grid's s) to out/<call>_source.csv.gz, limits(fp) to out/<call>_limits.csv.gz
# and phi(fp), tau2(fp) and the draw_adjusted it used to out/scalars.csv. Numbers are written with
# 15 significant digits (relative rounding < 1e-14, far below the tests' 1e-8).
# To keep the files small, limits(fp) is thinned to the rows at the units' denominators and
# every 4th row of FunnelPlotR's 1000-point grid.
#
# Usage, from the repository root:
#   python tests/refs/scripts/funnel_designs.py
#   R_LIBS=<library with FunnelPlotR 0.6.0> Rscript tests/refs/scripts/funnel_refs.R [OUT_DIR]
# OUT_DIR defaults to tests/refs/funnelplotr/out.

suppressPackageStartupMessages(library(FunnelPlotR))
if (as.character(packageVersion("FunnelPlotR")) != "0.6.0") {
  warning("expected FunnelPlotR 0.6.0, found ", packageVersion("FunnelPlotR"))
}

root <- "tests/refs/funnelplotr"
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else file.path(root, "out")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

write_full <- function(frame, path) {
  for (col in names(frame)) {
    if (is.factor(frame[[col]])) frame[[col]] <- as.character(frame[[col]])
    if (is.numeric(frame[[col]])) {
      values <- frame[[col]]
      text <- sprintf("%.15g", values)
      text[is.na(values)] <- ""
      text[is.infinite(values) & values > 0] <- "inf"
      text[is.infinite(values) & values < 0] <- "-inf"
      frame[[col]] <- text
    }
  }
  con <- gzfile(path, "w")
  write.csv(frame, con, row.names = FALSE, na = "")
  close(con)
}

calls <- read.csv(file.path(root, "calls.csv"), stringsAsFactors = FALSE)
scalars <- vector("list", nrow(calls))
for (i in seq_len(nrow(calls))) {
  cl <- calls[i, ]
  d <- read.csv(file.path(root, "designs", paste0(cl$design, ".csv")),
                colClasses = c("character", "numeric", "numeric"))
  od <- as.logical(cl$od_adjust)
  fp <- suppressMessages(funnel_plot(
    d, numerator = numerator, denominator = denominator, group = group,
    data_type = cl$data_type, limit = cl$limit, sr_method = cl$sr_method,
    trim_by = cl$trim_by, draw_adjusted = od, draw_unadjusted = !od
  ))
  # Columns kept: all but the constants (target_transformed, highlight) and the grid's s
  src <- source_data(fp)
  src <- src[, intersect(c("group", "numerator", "denominator", "rr", "Y", "Uzscore",
                           "Wuzscore", "OD95LCL", "OD95UCL", "OD99LCL", "OD99UCL", "LCL95",
                           "UCL95", "LCL99", "UCL99", "outlier"), names(src))]
  lim <- limits(fp)
  lim <- lim[, setdiff(names(lim), "s")]
  lim <- lim[lim$number_seq %in% src$denominator | seq_len(nrow(lim)) %% 4 == 1, ]
  write_full(src, file.path(out, paste0(cl$call, "_source.csv.gz")))
  write_full(lim, file.path(out, paste0(cl$call, "_limits.csv.gz")))
  r_call <- sprintf(paste0(
    "funnel_plot(d, numerator = numerator, denominator = denominator, group = group, ",
    "data_type = \"%s\", limit = %d, sr_method = \"%s\", trim_by = %s, ",
    "draw_adjusted = %s, draw_unadjusted = %s)"),
    cl$data_type, as.integer(cl$limit), cl$sr_method, format(cl$trim_by), od, !od)
  scalars[[i]] <- data.frame(call = cl$call, phi = sprintf("%.17g", phi(fp)),
                             tau2 = sprintf("%.17g", tau2(fp)),
                             draw_adjusted = fp$draw_adjusted, r_call = r_call)
}
write.csv(do.call(rbind, scalars), file.path(out, "scalars.csv"), row.names = FALSE)
cat(nrow(calls), "calls written to", out, "\n")
