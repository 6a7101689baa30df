"""Test app: a blob trigger (EventGrid source, polled locally) with a blob output."""

import azure.functions as func
from record import record, wait_for_gate

app = func.FunctionApp()


@app.blob_trigger(
    arg_name="blob", path="%WATCHED%/{name}", connection="TEST_STORAGE", source=func.BlobSource.EVENT_GRID
)
@app.blob_output(arg_name="out", path="%OUTPUTS%/{name}.txt", connection="TEST_STORAGE")
def on_blob(blob: func.InputStream, out: func.Out[str], name: str) -> None:
    data = blob.read()
    record(
        "started",
        name,
        blob_name=blob.name,
        length=blob.length,
        etag=blob.blob_properties["ETag"],
        content_type=blob.blob_properties["ContentType"],
        metadata=blob.metadata,
        data=data.decode(),
    )
    if name.startswith("fail"):
        raise RuntimeError("failing on purpose")
    if name.startswith("hold"):
        wait_for_gate(name)
    out.set(f"processed {name}")
    record("finished", name)
