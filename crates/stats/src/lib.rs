//! Statistics on secret-shared data.
//!
//! * [`kernel`]: what the three parties compute for each function (under MPC).
//! * [`flt`]: secret floating point, the scale-free layer statistics are finished in.
//! * [`finish`]: the analyst's side: the opened outputs become the JSON answer, with p-values and
//!   intervals from [`dist`].
//!
//! The catalogue [`FUNCTIONS`] names every function with its help text and what it opens.

mod common;
pub mod counts;
pub mod dist;
pub mod finish;
pub mod flt;
mod glm;
pub mod kernel;
mod nonpar;

/// A statistics request, as the analyst's client sends it to every party (part of the wire
/// contract); [`Args`] reads its arguments.
pub use mitsu_api::wire::StatsRequest as Request;

/// Most columns one statistics request names (a covariance or OLS over 64 columns is 64^2 work).
pub const MAX_COLUMNS: usize = 64;
/// Most group levels (`by`, `row`, `col`) one request compares.
pub const MAX_LEVELS: usize = 64;

/// Checks and readings of a request's arguments.
pub trait Args {
    fn check_limits(&self) -> Result<(), StatsError>;
    fn one_column(&self) -> Result<String, StatsError>;
    fn two_columns(&self) -> Result<Vec<String>, StatsError>;
    fn columns_or_column(&self) -> Result<Vec<String>, StatsError>;
}

impl Args for Request {
    /// Refuses requests whose size alone would make a party work or allocate without bound,
    /// before anything is planned. (The SELECT a request becomes meets the planner's limits too.)
    fn check_limits(&self) -> Result<(), StatsError> {
        let too = |what: &str, n: usize, max: usize| {
            Err(StatsError::Invalid(format!("{}: at most {max} {what}, not {n}", self.function)))
        };
        let cols = self.columns.len() + self.x.len();
        if cols > MAX_COLUMNS {
            return too("columns", cols, MAX_COLUMNS);
        }
        for (what, n) in [("groups", self.groups.len()), ("column groups", self.col_groups.len())] {
            if n > MAX_LEVELS {
                return too(what, n, MAX_LEVELS);
            }
        }
        if self.q.len() > 99 {
            return too("quantiles", self.q.len(), 99);
        }
        if self.expected.len() > 256 {
            return too("expected proportions", self.expected.len(), 256);
        }
        if self.bins.unwrap_or(0) > 1000 {
            return too("bins", self.bins.unwrap_or(0), 1000);
        }
        let text = self.from.len()
            + self
                .columns
                .iter()
                .chain(&self.x)
                .chain(&self.groups)
                .chain(&self.col_groups)
                .map(String::len)
                .sum::<usize>();
        if text > mitsu_query::limits::MAX_SQL_BYTES {
            return too("bytes of names and query text", text, mitsu_query::limits::MAX_SQL_BYTES);
        }
        Ok(())
    }

    fn one_column(&self) -> Result<String, StatsError> {
        match (&self.column, self.columns.as_slice()) {
            (Some(c), _) => Ok(c.clone()),
            (None, [c]) => Ok(c.clone()),
            _ => Err(StatsError::Invalid(format!("{} needs --column COLUMN", self.function))),
        }
    }

    fn two_columns(&self) -> Result<Vec<String>, StatsError> {
        if self.columns.len() != 2 {
            return Err(StatsError::Invalid(format!("{} needs --columns A,B (two columns)", self.function)));
        }
        Ok(self.columns.clone())
    }

    fn columns_or_column(&self) -> Result<Vec<String>, StatsError> {
        let mut v = self.columns.clone();
        if let Some(c) = &self.column {
            v.push(c.clone());
        }
        if v.is_empty() {
            return Err(StatsError::Invalid(format!("{} needs --columns or --column", self.function)));
        }
        Ok(v)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatsError {
    /// The request cannot be computed (names the problem).
    Invalid(String),
    /// The computation failed (the engine's error, kept for its kind).
    Mpc(mitsu_mpc_core::MpcError),
}

impl std::fmt::Display for StatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatsError::Invalid(s) => f.write_str(s),
            StatsError::Mpc(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StatsError {}

impl StatsError {
    /// A broken invariant (a bug in mitsu), not a problem with the request.
    pub fn internal(what: impl Into<String>) -> StatsError {
        StatsError::Mpc(mitsu_mpc_core::MpcError::Internal(what.into()))
    }
}

impl From<mitsu_query::QueryError> for StatsError {
    fn from(e: mitsu_query::QueryError) -> Self {
        match e {
            mitsu_query::QueryError::Mpc(e) => StatsError::Mpc(e),
            other => StatsError::Invalid(other.to_string()),
        }
    }
}

/// How the parties compute a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Per column, over its non-NULL values.
    Describe,
    /// One column (or the difference of two, paired), complete rows.
    OneSample,
    /// A column split by the levels of another.
    Groups,
    /// Several columns, complete rows: cross products.
    Matrix,
    /// t-test: one-sample, paired or two-sample depending on the options.
    TTest,
    /// Tables of counts: SQL GROUP BY queries run by the analyst's client (freq, crosstab, histogram).
    Sql,
    /// Chi-square tests on counts of indicator columns.
    Chisq,
    /// Rank tests of a column split by the levels of another (one sort).
    Ranks,
    /// Wilcoxon signed-rank test of paired columns (one sort of |a - b|).
    SignedRank,
    /// Logistic regression by Newton's method (IRLS).
    Logit,
    /// Weighted mean.
    Weighted,
}

/// One function of the suite.
impl Kernel {
    /// What a kernel may open to the parties besides what its SELECT opens (the engine records
    /// every opening; tests check the record against this list). Its outputs go to the analyst
    /// only.
    pub fn reveals(self) -> &'static [mitsu_mpc_core::Reveal] {
        use mitsu_mpc_core::Reveal::*;
        match self {
            // non-NULL counts; order statistics by one sort; non-positive values for gmean/hmean
            Kernel::Describe => &[StatisticCounts, SortComparisons, StatisticError],
            Kernel::OneSample | Kernel::TTest | Kernel::Weighted => &[StatisticCounts, StatisticError],
            // group sizes
            Kernel::Groups => &[StatisticCounts, StatisticError],
            // a singular design; Spearman ranks by one sort per column
            Kernel::Matrix => &[StatisticError, SortComparisons, StatisticCounts],
            // GROUP BY queries: the number of groups
            Kernel::Sql => &[GroupCount, SortComparisons, RowCount],
            // row and column totals
            Kernel::Chisq => &[StatisticCounts, StatisticError],
            Kernel::Ranks | Kernel::SignedRank => &[StatisticCounts, SortComparisons, StatisticError],
            // a response not coded 0/1, convergence and divergence per iteration
            Kernel::Logit => &[StatisticError, Iterations],
        }
    }
}

/// Every function of the catalogue, as code names it: kernels and finishing dispatch on this,
/// exhaustively, never on a name's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Id {
    Describe,
    Quantile,
    Fivenum,
    Count,
    Sum,
    Mean,
    Variance,
    Std,
    Sem,
    Min,
    Max,
    Range,
    Median,
    Iqr,
    Mode,
    Skewness,
    Kurtosis,
    Cv,
    Mad,
    TrimMean,
    Nunique,
    Gmean,
    Hmean,
    Wmean,
    Ttest,
    Vartest,
    Anova,
    Cov,
    Corr,
    Ols,
    Ztest,
    Freq,
    Crosstab,
    Histogram,
    Chisq,
    Spearman,
    Mannwhitney,
    Kruskal,
    Wilcoxon,
    Linregress,
    Logit,
    Pca,
}

impl Id {
    /// The function's name (as `mitsu stats` and the wire spell it).
    pub fn name(self) -> &'static str {
        FUNCTIONS.iter().find(|f| f.id == self).map_or("?", |f| f.name)
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug)]
pub struct Function {
    /// Which function: what code dispatches on (the name is for people and the wire).
    pub id: Id,
    pub name: &'static str,
    pub kernel: Kernel,
    /// Describe-kernel outputs it opens.
    pub outputs: &'static [&'static str],
    pub usage: &'static str,
    pub about: &'static str,
    /// What the analyst (and, where said, the parties) learn.
    pub leakage: &'static str,
}

const ALL: &[&str] = &[
    "count", "sum", "mean", "variance", "std", "sem", "min", "q25", "median", "q75", "max", "range", "iqr", "mode",
    "skewness", "kurtosis", "cv", "mad",
];

macro_rules! one {
    ($id:ident, $name:expr, $out:expr, $about:expr) => {
        Function {
            id: Id::$id,
            name: $name,
            kernel: Kernel::Describe,
            outputs: &[$out, "count"],
            usage: "--column A (or --columns A,B)",
            about: $about,
            leakage: concat!(
                "the ",
                $out,
                " and the number of non-NULL values of each column (the parties learn that number too)"
            ),
        }
    };
}

/// The catalogue.
pub const FUNCTIONS: &[Function] = &[
    Function {
        id: Id::Describe,
        name: "describe",
        kernel: Kernel::Describe,
        outputs: ALL,
        usage: "--columns A,B",
        about: "count, sum, mean, variance and std (ddof 1), sem, min, quartiles, max, range, IQR, mode, skewness, excess kurtosis, coefficient of variation, median absolute deviation",
        leakage: "the listed statistics of each column; the parties learn each column's number of non-NULL values",
    },
    Function {
        id: Id::Quantile,
        name: "quantile",
        kernel: Kernel::Describe,
        outputs: &["quantiles", "count"],
        usage: "--column A --q 0.1,0.9",
        about: "quantiles by linear interpolation between order statistics (numpy's default)",
        leakage: "the requested quantiles and the number of non-NULL values (the parties learn that number too)",
    },
    Function {
        id: Id::Fivenum,
        name: "fivenum",
        kernel: Kernel::Describe,
        outputs: &["min", "q25", "median", "q75", "max", "count"],
        usage: "--column A",
        about: "five-number summary: minimum, quartiles, maximum",
        leakage: "the five numbers and the number of non-NULL values (the parties learn that number too)",
    },
    one!(Count, "count", "count", "number of non-NULL values"),
    one!(Sum, "sum", "sum", "sum of the values"),
    one!(Mean, "mean", "mean", "arithmetic mean"),
    one!(Variance, "variance", "variance", "sample variance (ddof 1)"),
    one!(Std, "std", "std", "sample standard deviation (ddof 1)"),
    one!(Sem, "sem", "sem", "standard error of the mean"),
    one!(Min, "min", "min", "smallest value"),
    one!(Max, "max", "max", "largest value"),
    one!(Range, "range", "range", "max - min"),
    one!(Median, "median", "median", "median (mean of the two middle values for an even count)"),
    one!(Iqr, "iqr", "iqr", "interquartile range q75 - q25"),
    one!(Mode, "mode", "mode", "most frequent value (the smallest of several)"),
    one!(Skewness, "skewness", "skewness", "sample skewness, biased (scipy.stats.skew default)"),
    one!(Kurtosis, "kurtosis", "kurtosis", "excess kurtosis, biased (scipy.stats.kurtosis default)"),
    one!(Cv, "cv", "cv", "coefficient of variation std / mean (ddof 1)"),
    one!(Mad, "mad", "mad", "median absolute deviation from the median (scipy.stats.median_abs_deviation)"),
    one!(
        TrimMean,
        "trim_mean",
        "trim_mean",
        "mean after cutting --trim P (default 0.1) of the values from each end (scipy.stats.trim_mean)"
    ),
    one!(Nunique, "nunique", "nunique", "number of distinct values"),
    one!(Gmean, "gmean", "gmean", "geometric mean of positive values (scipy.stats.gmean)"),
    one!(Hmean, "hmean", "hmean", "harmonic mean of positive values (scipy.stats.hmean)"),
    Function {
        id: Id::Wmean,
        name: "wmean",
        kernel: Kernel::Weighted,
        outputs: &[],
        usage: "--column A --weights W",
        about: "weighted mean sum(w a) / sum(w) over rows where both are present (numpy.average)",
        leakage: "the weighted mean and the number of rows with both values (the parties learn that number too)",
    },
    Function {
        id: Id::Ttest,
        name: "ttest",
        kernel: Kernel::TTest,
        outputs: &[],
        usage: "--column A --mu 0 | --column A --by G [--groups X,Y] [--welch] | --paired --columns A,B",
        about: "Student's t-test: one-sample, two-sample (Student or Welch), paired; t, df, p (two-sided), mean difference and its confidence interval",
        leakage: "the mean difference and its standard error (t and the interval are functions of these) and n; two-sample: each group's size (the parties learn them too), with --welch each group's variance over its size (the Welch df is a function of them); the parties see the group labels in the request",
    },
    Function {
        id: Id::Vartest,
        name: "vartest",
        kernel: Kernel::Groups,
        outputs: &[],
        usage: "--column A --by G [--groups X,Y]",
        about: "F-test of equal variances of two groups (var X / var Y)",
        leakage: "F and each group's size (the parties learn the sizes too)",
    },
    Function {
        id: Id::Anova,
        name: "anova",
        kernel: Kernel::Groups,
        outputs: &[],
        usage: "--column A --by G [--groups X,Y,…]",
        about: "one-way analysis of variance: F, degrees of freedom, p",
        leakage: "F and each group's size (the parties learn the sizes too)",
    },
    Function {
        id: Id::Cov,
        name: "cov",
        kernel: Kernel::Matrix,
        outputs: &[],
        usage: "--columns A,B,…",
        about: "covariance matrix (ddof 1) over complete rows",
        leakage: "the covariance matrix and the number of complete rows (the parties learn that number too)",
    },
    Function {
        id: Id::Corr,
        name: "corr",
        kernel: Kernel::Matrix,
        outputs: &[],
        usage: "--columns A,B,… [--method pearson]",
        about: "Pearson correlation matrix over complete rows; with two columns also r, p-value, n",
        leakage: "the correlations and the number of complete rows (the parties learn that number too)",
    },
    Function {
        id: Id::Ols,
        name: "ols",
        kernel: Kernel::Matrix,
        outputs: &[],
        usage: "--y Y --x A,B,…",
        about: "ordinary least squares with an intercept: coefficients, standard errors, t, p, R^2, adjusted R^2, F",
        leakage: "coefficients, standard errors and R^2 (t, p, adjusted R^2 and F follow from them) and the number of complete rows (the parties learn that number too); a singular design ends the job naming the regressor",
    },
    Function {
        id: Id::Ztest,
        name: "ztest",
        kernel: Kernel::TTest,
        outputs: &[],
        usage: "--column A --mu 0 | --column A --by G [--groups X,Y]",
        about: "z-test of a mean or of two means (pooled variance), normal p-value (statsmodels ztest)",
        leakage: "as ttest: the mean difference, its standard error and the sizes",
    },
    Function {
        id: Id::Freq,
        name: "freq",
        kernel: Kernel::Sql,
        outputs: &[],
        usage: "--column C",
        about: "frequency table: count and proportion of every value (NULLs left out)",
        leakage: "every value with its count (a GROUP BY query); the parties learn the number of distinct values",
    },
    Function {
        id: Id::Crosstab,
        name: "crosstab",
        kernel: Kernel::Sql,
        outputs: &[],
        usage: "--row R --col C",
        about: "contingency table of two columns with row and column totals",
        leakage: "every pair of values with its count (a GROUP BY query); the parties learn the number of distinct pairs",
    },
    Function {
        id: Id::Histogram,
        name: "histogram",
        kernel: Kernel::Sql,
        outputs: &[],
        usage: "--column A [--bins 10]",
        about: "counts in equal-width bins between the minimum and the maximum (numpy.histogram)",
        leakage: "the minimum, the maximum (they are the outer edges) and the count of every bin",
    },
    Function {
        id: Id::Chisq,
        name: "chisq",
        kernel: Kernel::Chisq,
        outputs: &[],
        usage: "--row R --col C [--groups …] [--col-groups …] | --column C [--groups …] [--expected P1,P2,…]",
        about: "chi-square test of independence (no continuity correction) or of goodness of fit",
        leakage: "chi2 and the row and column totals (independence) or the total count (goodness of fit); the level discovery opens each level's count",
    },
    Function {
        id: Id::Spearman,
        name: "spearman",
        kernel: Kernel::Matrix,
        outputs: &[],
        usage: "--columns A,B,…",
        about: "Spearman rank correlation (average ranks for ties); with two columns also p-value (corr --method spearman)",
        leakage: "the rank correlations and the number of complete rows (the parties learn that number too)",
    },
    Function {
        id: Id::Mannwhitney,
        name: "mannwhitney",
        kernel: Kernel::Ranks,
        outputs: &[],
        usage: "--column A --by G [--groups X,Y]",
        about: "Mann-Whitney U test, normal approximation with tie and continuity correction (scipy method='asymptotic')",
        leakage: "U of the first group, the tie term sum(t^3 - t) and each group's size (the parties learn the sizes too)",
    },
    Function {
        id: Id::Kruskal,
        name: "kruskal",
        kernel: Kernel::Ranks,
        outputs: &[],
        usage: "--column A --by G [--groups X,Y,…]",
        about: "Kruskal-Wallis H test with tie correction, chi-square p-value",
        leakage: "H and each group's size (the parties learn the sizes too)",
    },
    Function {
        id: Id::Wilcoxon,
        name: "wilcoxon",
        kernel: Kernel::SignedRank,
        outputs: &[],
        usage: "--columns A,B",
        about: "Wilcoxon signed-rank test of paired columns, zero differences dropped, normal approximation with tie correction (scipy method='approx')",
        leakage: "the rank sum of the positive differences, the tie term, the number of pairs and of zero differences (the parties learn both numbers too)",
    },
    Function {
        id: Id::Linregress,
        name: "linregress",
        kernel: Kernel::Matrix,
        outputs: &[],
        usage: "--y Y --x A",
        about: "simple linear regression: slope, intercept, r, p, standard errors (scipy.stats.linregress)",
        leakage: "as ols with one regressor",
    },
    Function {
        id: Id::Logit,
        name: "logit",
        kernel: Kernel::Logit,
        outputs: &[],
        usage: "--y Y --x A,B,…",
        about: "logistic regression (y coded 0/1) by Newton's method: coefficients, standard errors, z, p, log-likelihood",
        leakage: "coefficients, standard errors, the log-likelihood, the number of complete rows (the parties learn it too) and the number of iterations (the parties learn it too)",
    },
    Function {
        id: Id::Pca,
        name: "pca",
        kernel: Kernel::Matrix,
        outputs: &[],
        usage: "--columns A,B,… [--standardize]",
        about: "principal components of the covariance (or, standardized, the correlation) matrix; signs so that each component's largest loading is positive",
        leakage: "the covariance (correlation) matrix, from which components and variances are computed on your machine: all components together are equivalent to it; the number of complete rows",
    },
];

/// Every function of the catalogue.
pub fn functions() -> impl Iterator<Item = &'static Function> {
    FUNCTIONS.iter()
}

/// The catalogue entry of `name`.
pub fn spec(name: &str) -> Result<&'static Function, StatsError> {
    let name = if name == "var" { "variance" } else { name };
    functions().find(|f| f.name == name).ok_or_else(|| {
        StatsError::Invalid(format!(
            "unknown statistics function {name:?}; known: {}",
            functions().map(|f| f.name).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// A SQL identifier, quoted.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal, quoted.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SELECT (or a parenthesised query) rather than a table name.
pub fn is_query(from: &str) -> bool {
    let t = from.trim_start().to_ascii_lowercase();
    t.starts_with("select") || t.starts_with('(')
}

/// The FROM clause for a table name or a query.
pub fn from_clause(from: &str) -> String {
    if is_query(from) { format!("({from}) AS stats_from") } else { quote_ident(from) }
}
