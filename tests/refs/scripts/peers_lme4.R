#!/usr/bin/env Rscript
# Regenerates the lme4 reference files of tests/refs/lme4/:
#   lme4_sleepstudy_fits.csv   REML and ML fits of lme4's sleepstudy data
#   lme4_growth_data.csv.gz    the synthetic 20,000-patient growth data set (generator below)
#   lme4_growth_ref.json       the REML fit of that data set
#   timings_lme4.csv           three more timed fits of the same model
# (The sleepstudy data set itself, datasets/lme4__sleepstudy.csv, is exported by
#  peers_datasets.R.)
#
# Expects: R 4.2.2, lme4 1.1.31 (Matrix 1.5.3, nloptr 2.0.3, minqa 1.2.5), jsonlite.
# Other versions run but warn; their numbers may differ in the last digits.
#
# Run from the repository root:
#   Rscript tests/refs/scripts/peers_lme4.R              # writes into tests/refs/lme4/
#   Rscript tests/refs/scripts/peers_lme4.R /tmp/refs    # writes into /tmp/refs/lme4/ instead
# Takes about half a minute (four fits of the 240,000-row model). Timings and the elapsed
# seconds in the JSON naturally differ from run to run; every estimate should not.

local({
  args <- commandArgs(trailingOnly = FALSE)
  file <- sub("^--file=", "", args[grepl("^--file=", args)])
  here <- if (length(file) == 1L) dirname(normalizePath(file)) else "tests/refs/scripts"
  source(file.path(here, "peers_common.R"), local = globalenv())
})

suppressPackageStartupMessages(library(lme4))
expect_version("lme4", "1.1.31")
expect_version("Matrix", "1.5.3")

out_dir <- file.path(peers_out_root(), "lme4")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# --- sleepstudy: REML and ML fits (values written with 17 significant digits) -------------
fmt17 <- function(x) sprintf("%.17g", x)
vc_rows <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  name <- ifelse(is.na(vc$var1), vc$grp,
                 ifelse(is.na(vc$var2), paste(vc$grp, vc$var1, sep = ":"),
                        paste(vc$grp, vc$var1, vc$var2, sep = ":")))
  data.frame(kind = "vcov", name = name, value = fmt17(vc$vcov), stringsAsFactors = FALSE)
}
fit_reml <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
fit_ml <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)
fe <- fixef(fit_reml)
se <- sqrt(diag(as.matrix(vcov(fit_reml))))
fe_ml <- fixef(fit_ml)
sleep <- rbind(
  data.frame(model = "reml", rbind(
    data.frame(kind = "fixef", name = names(fe), value = fmt17(fe), stringsAsFactors = FALSE),
    data.frame(kind = "se", name = names(fe), value = fmt17(se), stringsAsFactors = FALSE),
    vc_rows(fit_reml),
    data.frame(kind = "crit", name = "REML", value = fmt17(REMLcrit(fit_reml)), stringsAsFactors = FALSE)
  ), stringsAsFactors = FALSE),
  data.frame(model = "ml", rbind(
    data.frame(kind = "fixef", name = names(fe_ml), value = fmt17(fe_ml), stringsAsFactors = FALSE),
    vc_rows(fit_ml),
    data.frame(kind = "crit", name = "deviance", value = fmt17(deviance(fit_ml)), stringsAsFactors = FALSE)
  ), stringsAsFactors = FALSE)
)
rownames(sleep) <- NULL
write_ref_csv(sleep, file.path(out_dir, "lme4_sleepstudy_fits.csv"))

# --- growth model: synthetic data, exact generator --------------------------------------------
generator <- c(
  "set.seed(1); N <- 20000L; S <- 12L",
  "z1 <- rnorm(N); z2 <- rnorm(N)",
  "b0 <- 6 * z1; b1 <- 3 * (-0.3 * z1 + sqrt(1 - 0.3^2) * z2)",
  "d <- data.frame(id = rep(seq_len(N), each = S), session = rep(0:(S - 1), times = N))",
  "e <- rnorm(N * S, sd = 4)",
  "d$score <- round(25 + b0[d$id] + (-4 + b1[d$id]) * log1p(d$session) + e, 3)"
)
eval(parse(text = generator))

data_path <- file.path(out_dir, "lme4_growth_data.csv.gz")
con <- gzfile(data_path, "w")
write_ref_csv(d, con)
close(con)
back <- utils::read.csv(data_path)
stopifnot(identical(back$id, d$id), identical(back$session, d$session),
          identical(back$score, d$score))

timed <- system.time(
  fit <- lmer(score ~ log1p(session) + (1 + log1p(session) | id), data = d, REML = TRUE)
)
vc <- as.data.frame(VarCorr(fit))
fe <- fixef(fit)
se <- sqrt(diag(as.matrix(vcov(fit))))
ref <- list(
  description = "lme4::lmer REML fit of score ~ log1p(session) + (1 + log1p(session) | id) on lme4_growth_data.csv.gz",
  call = "lmer(score ~ log1p(session) + (1 + log1p(session) | id), data = d, REML = TRUE)  # default lmerControl()",
  data = list(
    file = "lme4_growth_data.csv.gz",
    n_obs = nrow(d),
    n_patients = length(unique(d$id)),
    sessions_per_patient = S,
    session_coding = "0..11 (log1p(0) = 0, so the intercept is the session-0 mean)",
    generator = generator,
    true_values = list(intercept = 25, slope_log1p_session = -4, sd_intercept = 6, sd_slope = 3,
                       corr_intercept_slope = -0.3, sd_residual = 4)
  ),
  fixed_effects = as.list(fe),
  fixed_effects_se = as.list(stats::setNames(se, names(fe))),
  variance_components = vc,
  sigma = sigma(fit),
  theta = unname(getME(fit, "theta")),
  reml_criterion = REMLcrit(fit),
  logLik_REML = as.numeric(logLik(fit)),
  n_groups = unname(ngrps(fit)[["id"]]),
  optimizer = fit@optinfo$optimizer,
  optimizer_convergence_code = fit@optinfo$conv$opt,
  lme4_convergence_messages = as.character(unlist(fit@optinfo$conv$lme4$messages)),
  elapsed_s = round(timed[["elapsed"]], 3),
  user_s = round(timed[["user.self"]], 3),
  sys_s = round(timed[["sys.self"]], 3),
  machine = "2-core x86_64 Debian 12 container, reference BLAS (libblas3), single R process",
  versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                  lme4 = as.character(packageVersion("lme4")),
                  Matrix = as.character(packageVersion("Matrix")),
                  nloptr = as.character(packageVersion("nloptr")),
                  minqa = as.character(packageVersion("minqa")))
)
json <- jsonlite::toJSON(ref, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null",
                         dataframe = "rows")
writeLines(json, file.path(out_dir, "lme4_growth_ref.json"))

# --- timings: three more fits of the same model ------------------------------------------------
timings <- do.call(rbind, lapply(1:3, function(run) {
  t <- system.time(f <- lmer(score ~ log1p(session) + (1 + log1p(session) | id), data = d, REML = TRUE))
  data.frame(run = run, elapsed_s = round(t[["elapsed"]], 3), user_s = round(t[["user.self"]], 3),
             reml_criterion = sprintf("%.17g", REMLcrit(f)),
             lme4 = as.character(packageVersion("lme4")), stringsAsFactors = FALSE)
}))
write_ref_csv(timings, file.path(out_dir, "timings_lme4.csv"))

message("wrote ", out_dir)
