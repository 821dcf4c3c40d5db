//! Lambda entry point for process-upload: reads config, builds the AWS clients once, and hands
//! each invocation to the handler.

mod handler;

use imgpipe::config::{PipelineConfig, StorageNames};
use imgpipe::store::{clients, DynamoImages, S3Objects};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use handler::Handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    imgpipe::logging::init();
    // Photo after photo reuses the same large buffers: keep them rather than fault them in again.
    let kept = imgpipe::allocator::keep_freed_memory();
    tracing::debug!(kept, "allocator keeps freed memory");
    // Bad configuration stops the cold start with a clear message instead of failing records.
    let pipeline = PipelineConfig::from_env()?;
    let names = StorageNames::from_env()?;
    let sdk = clients::from_environment()?;
    let handler = Handler::new(
        S3Objects::new(clients::s3_client(&sdk)),
        DynamoImages::new(clients::dynamodb_client(&sdk), names.table_name.clone()),
        names,
        pipeline,
    );
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
