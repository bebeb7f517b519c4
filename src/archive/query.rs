//! SQL over the archive with `DataFusion`: each table is a listing table
//! over its hive-partitioned folder, with `date` as the partition column,
//! so a filter on `date` skips other days' folders without opening them.
//! A table with nothing archived yet is registered empty, so a query over
//! it returns no rows instead of failing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::ArchiveError;
use super::files::table_files;
use super::schema::{PARTITION_COLUMN, Table};

/// Why a query failed, by who must act.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The user must fix the SQL: it does not parse, or names a table,
    /// column or function that does not exist.
    #[error("{message}")]
    BadQuery {
        /// `DataFusion`'s explanation, with the names that do exist.
        message: String,
    },
    /// The operator must check the archive folder or its files.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The query was valid but could not be run (a damaged file, memory).
    #[error("query failed: {0}")]
    Engine(DataFusionError),
}

impl From<DataFusionError> for QueryError {
    fn from(error: DataFusionError) -> Self {
        match error.find_root() {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(..)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(..) => Self::BadQuery {
                message: error.find_root().to_string(),
            },
            _ => Self::Engine(error),
        }
    }
}

/// The archive, opened for SQL.
pub struct ArchiveQuery {
    runtime: tokio::runtime::Runtime,
    context: SessionContext,
    empty: Vec<Table>,
}

impl ArchiveQuery {
    /// Registers the four tables of the archive at `root`.
    ///
    /// # Errors
    /// The folder does not exist or cannot be listed.
    pub fn open(root: &Path) -> Result<Self, QueryError> {
        let root = std::fs::canonicalize(root).map_err(ArchiveError::io(root))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("query")
            .build()
            .map_err(|e| QueryError::Archive(ArchiveError::io(&root)(e)))?;
        let config = SessionConfig::new().with_information_schema(true);
        let context = SessionContext::new_with_config(config);
        let mut empty = Vec::new();
        for table in Table::ALL {
            if table_files(&root, table)?.is_empty() {
                register_empty(&context, table)?;
                empty.push(table);
            } else {
                register_listing(&context, &root, table)?;
            }
        }
        Ok(Self {
            runtime,
            context,
            empty,
        })
    }

    /// Tables with no archived rows yet.
    #[must_use]
    pub fn empty_tables(&self) -> &[Table] {
        &self.empty
    }

    /// Runs one SQL statement and returns its result.
    ///
    /// # Errors
    /// [`QueryError::BadQuery`] when the SQL is wrong, else a failure of the
    /// engine or the archive.
    pub fn sql(&self, text: &str) -> Result<Vec<RecordBatch>, QueryError> {
        self.runtime.block_on(async {
            let frame = self.context.sql(text).await?;
            Ok(frame.collect().await?)
        })
    }
}

/// A table's columns as queries see them: the file columns and `date`.
#[must_use]
pub fn query_schema(table: Table) -> SchemaRef {
    let mut fields: Vec<Field> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(PARTITION_COLUMN, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

fn register_empty(context: &SessionContext, table: Table) -> Result<(), QueryError> {
    let memory = MemTable::try_new(query_schema(table), vec![vec![]])?;
    context.register_table(table.name(), Arc::new(memory))?;
    Ok(())
}

fn register_listing(context: &SessionContext, root: &Path, table: Table) -> Result<(), QueryError> {
    let dir: PathBuf = root.join(table.name());
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![(PARTITION_COLUMN.to_owned(), DataType::Utf8)]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(table.schema());
    let listing = ListingTable::try_new(config)?;
    context.register_table(table.name(), Arc::new(listing))?;
    Ok(())
}
