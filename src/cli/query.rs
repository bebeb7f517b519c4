//! `vigil query SQL`: SQL over the archive, printed as a table, CSV or
//! JSON lines.

use std::io::Write;

use arrow::record_batch::RecordBatch;
use clap::{Args, ValueEnum};
use vigil::archive::{ArchiveQuery, QueryError};

use super::Failure;
use super::archive::ArchiveLocation;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Json,
}

/// Arguments of `vigil query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL statement; tables `events`, `incidents`, `actions` and
    /// `audit`, each with a `date` column (`YYYY-MM-DD`, UTC) that selects
    /// day partitions without reading the others.
    sql: String,
    #[command(flatten)]
    location: ArchiveLocation,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs the query and prints its result on stdout.
pub fn execute(args: &QueryArgs) -> Result<(), Failure> {
    let (_, root) = args.location.resolve()?;
    if !root.is_dir() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no archive at {}: nothing has been archived there yet",
            root.display()
        )));
    }
    let query = ArchiveQuery::open(&root).map_err(failure)?;
    let batches = query.sql(&args.sql).map_err(failure)?;
    for table in query.empty_tables() {
        if mentions_table(&args.sql, table.name()) {
            eprintln!(
                "note: the archive at {} has no {} yet; the table is empty",
                root.display(),
                table.name()
            );
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    print(&batches, args.format, &mut out).map_err(Failure::runtime)?;
    out.flush().map_err(Failure::runtime)
}

/// Bad SQL is bad usage (exit 2); anything else is a runtime failure.
fn failure(error: QueryError) -> Failure {
    match error {
        QueryError::BadQuery { .. } => Failure::usage(error),
        other => Failure::runtime(other),
    }
}

fn mentions_table(sql: &str, table: &str) -> bool {
    sql.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|word| word == table)
}

/// Writes `batches` in `format`.
fn print(batches: &[RecordBatch], format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if rows > 0 {
                writeln!(
                    out,
                    "{}",
                    arrow::util::pretty::pretty_format_batches(batches)?
                )?;
            }
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::LineDelimitedWriter::new(out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs)?;
            writer.finish()?;
        }
    }
    Ok(())
}
