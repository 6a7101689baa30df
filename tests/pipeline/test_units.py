"""Pipeline parts that need no service: settings at import, trigger metadata, image normalisation,
retry/backoff, the rate limit and the gate."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import pytest
from PIL import Image

from shared import imaging
from shared.customvision.retry import RateLimiter, backoff, call_with_retry, limiter_for
from shared.documents import Prediction, review_reason
from shared.errors import PermanentError, TransientError
from shared.retrain.gate import decide
from shared.runs.record import Metrics
from shared.settings.declared import SETTINGS
from shared.settings.definitions import SettingsError, load_settings
from tests.pipeline.conftest import RESOURCE_ID

ROOT = Path(__file__).resolve().parents[2]
VALID = {
    "PIPELINE_STORAGE": "UseDevelopmentStorage=true",
    "CUSTOMVISION_TRAINING_ENDPOINT": "http://127.0.0.1:5100",
    "CUSTOMVISION_TRAINING_KEY": "k1",
    "CUSTOMVISION_PREDICTION_ENDPOINT": "http://127.0.0.1:5100",
    "CUSTOMVISION_PREDICTION_KEY": "k2",
    "CUSTOMVISION_PREDICTION_RESOURCE_ID": RESOURCE_ID,
}


# --- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PREDICTION_THRESHOLD", "1.5"),
        ("RETRAIN_SCHEDULE", "0 3 * * *"),
        ("CUSTOMVISION_PREDICTION_RESOURCE_ID", "localvision-prediction"),
        ("CUSTOMVISION_PROJECT_ID", "not-a-guid"),
        ("IMAGES_CONTAINER", "Images_Upper"),
        ("CUSTOMVISION_TIMEOUT_SECONDS", "0"),
        ("QUICKTEST_MAX_BYTES", "-1"),
        ("RETRAIN_STALE_MINUTES", "soon"),
    ],
)
def test_importing_the_app_with_a_bad_setting_raises_naming_it(load_app, name, value):
    with pytest.raises(SettingsError) as raised:
        load_app({**VALID, name: value})
    assert name in str(raised.value)


def test_a_missing_setting_is_named_and_secrets_are_not_echoed(load_app):
    settings = {**VALID, "CUSTOMVISION_TRAINING_KEY": ""}
    settings.pop("CUSTOMVISION_PREDICTION_ENDPOINT")
    with pytest.raises(SettingsError) as raised:
        load_app(settings)
    assert "CUSTOMVISION_TRAINING_KEY is missing" in str(raised.value)
    assert "CUSTOMVISION_PREDICTION_ENDPOINT is missing" in str(raised.value)
    assert "k2" not in str(raised.value)


def test_identity_based_storage_needs_both_service_uris():
    env = {k: v for k, v in VALID.items() if k != "PIPELINE_STORAGE"}
    env["PIPELINE_STORAGE__blobServiceUri"] = "https://acct.blob.core.windows.net"
    with pytest.raises(SettingsError, match="queueServiceUri"):
        load_settings(env)
    env["PIPELINE_STORAGE__queueServiceUri"] = "https://acct.queue.core.windows.net"
    assert load_settings(env).identity["blobServiceUri"].startswith("https://acct.blob")


def test_local_settings_example_lists_every_setting_and_loads():
    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    assert {s.name for s in SETTINGS} <= set(values)
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    settings = load_settings(values)
    assert settings.customvision_domain == "Food" and settings.prediction_max_tps == 0
    assert settings.retrain_poll_seconds == 2


def test_every_setting_has_a_description_and_a_safe_default_or_is_required():
    for setting in SETTINGS:
        assert setting.description.strip(), setting.name
        if setting.default is not None:
            setting.parse(setting.default)  # defaults pass their own validation


# --- trigger metadata --------------------------------------------------------------------------------


def test_service_mode_starts_without_onnxruntime_or_numpy():
    """Service mode's cold start does not pay for onnx mode's runtime (the import-time budget)."""
    probe = "import sys, function_app; print('onnxruntime' in sys.modules, 'numpy' in sys.modules)"
    env = {**VALID, "CLASSIFIER_MODE": "service", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_triggers_and_bindings(load_app):
    app = load_app(VALID)
    functions = {f.get_function_name(): f.get_trigger().get_dict_repr() for f in app.app.get_functions()}
    assert set(functions) == {
        "classify", "classify_poison", "classify_quick", "retrain", "retrain_status", "retrain_scheduled",
        "retrain_worker", "retrain_poison", "console", "console_api", "training_import",
    }  # fmt: skip
    blob = functions["classify"]
    assert (blob["type"], blob["path"], blob["connection"], blob["source"]) == (
        "blobTrigger", "%IMAGES_CONTAINER%/{name}", "PIPELINE_STORAGE", "EventGrid",
    )  # fmt: skip
    assert blob["dataType"] == func.DataType.BINARY
    assert functions["classify_poison"]["queueName"] == "webjobs-blobtrigger-poison"
    assert functions["retrain_worker"]["queueName"] == "%RETRAIN_QUEUE%"
    assert functions["retrain_worker"]["connection"] == "PIPELINE_STORAGE"
    assert functions["retrain_poison"]["queueName"] == "%RETRAIN_QUEUE%-poison"
    assert functions["retrain_poison"]["connection"] == "PIPELINE_STORAGE"
    timer = functions["retrain_scheduled"]
    assert timer["schedule"] == "%RETRAIN_SCHEDULE%" and timer["runOnStartup"] is False
    assert functions["retrain_status"]["route"] == "retrain/{runId}"
    assert functions["training_import"]["route"] == "training/import"
    assert [str(m.value) for m in functions["training_import"]["methods"]] == ["POST"]
    for name in ("classify_quick", "retrain", "retrain_status", "training_import"):
        assert str(functions[name]["authLevel"].value) == "function"


def test_host_json_choices():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    assert host["extensions"]["blobs"]["poisonBlobThreshold"] == 5
    assert host["extensions"]["queues"]["messageEncoding"] == "base64"
    assert host["extensions"]["queues"]["maxDequeueCount"] == 5


# --- image normalisation ---------------------------------------------------------------------------


def _image(fmt: str, size: tuple[int, int] = (400, 300), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt, **save)
    return out.getvalue()


def test_accepted_images_pass_through_untouched():
    data = _image("PNG")
    result = imaging.normalise(data)
    assert result.data == data and result.changes == () and (result.width, result.height) == (400, 300)


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF"])
def test_other_formats_become_jpeg(fmt):
    result = imaging.normalise(_image(fmt))
    assert Image.open(io.BytesIO(result.data)).format == "JPEG"
    assert result.changes == (f"converted {fmt} to JPEG",)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    result = imaging.normalise(_image("JPEG", (400, 300), exif=exif.tobytes()))
    assert (result.width, result.height) == (300, 400)
    assert Image.open(io.BytesIO(result.data)).getexif().get(0x0112, 1) == 1


def test_transparent_png_over_the_limit_is_flattened_and_fits():
    noisy = Image.effect_noise((1600, 1600), 100).convert("RGBA")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    result = imaging.normalise(out.getvalue(), max_bytes=512 * 1024)
    assert len(result.data) <= 512 * 1024
    assert Image.open(io.BytesIO(result.data)).mode == "RGB"


def test_images_over_the_side_limit_are_downscaled(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_SIDE", 500)
    result = imaging.normalise(_image("JPEG", (1200, 600)))
    assert max(result.width, result.height) <= 500


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "NotAnImage"),
        (b"hello world", "NotAnImage"),
        (_image("JPEG")[:200], "NotAnImage"),
        (_image("PNG", (20, 200)), "ImageTooSmall"),
        (_image("PNG", (2000, 40)), "ImageAspectRatio"),
    ],
)
def test_unusable_images_are_refused_with_a_code(data, code):
    with pytest.raises(PermanentError) as refused:
        imaging.normalise(data)
    assert refused.value.code == code


def test_decompression_bombs_are_refused_cleanly():
    # a 12,000 x 12,000 PNG of one colour is tiny on disk and 144 megapixels decoded
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG", optimize=True)
    with pytest.raises(PermanentError) as refused:
        imaging.normalise(out.getvalue())
    assert refused.value.code == "ImageTooLarge" and "89,478,485 pixels" in refused.value.message


# --- retries and the rate limit ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_backoff_grows_and_honours_retry_after():
    assert 0.25 <= backoff(1, None, lambda: 0.0) <= 0.5
    assert backoff(4, None, lambda: 1.0) == 4.0
    assert backoff(10, None, lambda: 1.0) == 8.0
    assert backoff(1, 7.0, lambda: 0.5) == 7.0


def test_transient_errors_are_retried_within_the_budget_then_raised():
    clock = FakeClock()
    calls = []

    def flaky() -> str:
        calls.append(clock.now)
        raise TransientError("Throttled", retry_after=1.0)

    with pytest.raises(TransientError):
        call_with_retry(flaky, lambda e: e, budget_seconds=10, what="t", sleep=clock.sleep, clock=clock)
    assert len(calls) >= 4
    assert all(s >= 1.0 for s in clock.sleeps)  # Retry-After respected
    assert clock.now <= 10


def test_success_after_transient_errors_and_permanent_errors_are_not_retried():
    clock = FakeClock()
    attempts = iter(
        [TransientError("ServiceError", status=500), TransientError("ServiceError", status=500), "ok"]
    )

    def sometimes() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert (
        call_with_retry(sometimes, lambda e: e, budget_seconds=60, what="t", sleep=clock.sleep, clock=clock)
        == "ok"
    )
    calls = []

    def broken() -> None:
        calls.append(1)
        raise PermanentError("NotAnImage")

    with pytest.raises(PermanentError):
        call_with_retry(broken, lambda e: e, budget_seconds=60, what="t", sleep=clock.sleep, clock=clock)
    assert calls == [1]


def test_rate_limiter_spaces_calls():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])  # no burst, even at the start
    clock.sleep(10)  # a long pause is not made up with a burst afterwards
    assert [limiter.reserve() for _ in range(3)] == pytest.approx([0.0, 0.5, 1.0])
    assert RateLimiter(0).reserve() == 0.0  # 0 = off


def test_try_acquire_takes_a_near_slot_and_refuses_a_far_one_without_taking_it():
    clock = FakeClock()
    limiter = RateLimiter(0.25, clock=clock)  # a slot every 4 s
    assert limiter.try_acquire(2.0, sleep=clock.sleep) is None  # the first slot is free
    assert limiter.try_acquire(2.0, sleep=clock.sleep) == pytest.approx(4.0)  # next in 4 s: refused
    clock.sleep(2.5)
    assert limiter.try_acquire(2.0, sleep=clock.sleep) is None  # 1.5 s away: taken, and waited for
    assert clock.now == pytest.approx(4.0)
    assert limiter.reserve() == pytest.approx(4.0)  # a refusal took nothing: the queue is one slot long
    assert RateLimiter(0).try_acquire(0.0) is None  # 0 = off


def test_each_budget_has_its_own_limiter_even_at_the_same_rate():
    pipeline, quick = limiter_for("PREDICTION_MAX_TPS", 0.5), limiter_for("QUICKTEST_MAX_TPS", 0.5)
    assert pipeline is not quick
    assert limiter_for("PREDICTION_MAX_TPS", 0.5) is pipeline  # one per process and budget


# --- the gate ------------------------------------------------------------------------------------------


def _settings(**overrides: str):
    return load_settings({**VALID, **overrides})


def _metrics(precision, recall, average_precision) -> Metrics:
    return Metrics(threshold=0.5, precision=precision, recall=recall, average_precision=average_precision)


def test_gate_passes_good_metrics_and_names_each_failure():
    assert decide(_metrics(0.95, 0.9, 0.97), None, _settings()).passed is True

    bad = decide(_metrics(0.7, 0.9, None), None, _settings())
    assert bad.passed is False
    assert any("GATE_MIN_PRECISION" in r for r in bad.reasons)
    assert any("averagePrecision was not reported" in r for r in bad.reasons)


def test_gate_refuses_a_regression_beyond_the_tolerance():
    previous = _metrics(0.99, 0.99, 0.99)
    slightly_worse, worse = _metrics(0.98, 0.99, 0.99), _metrics(0.90, 0.99, 0.99)
    assert decide(slightly_worse, previous, _settings(GATE_TOLERANCE="0.02")).passed is True
    decision = decide(worse, previous, _settings(GATE_TOLERANCE="0.02"))
    assert decision.passed is False and "GATE_TOLERANCE" in decision.reasons[0]
    assert decision.compared_with.precision == 0.99


def test_the_settings_page_holds_the_current_settings_table():
    from shared.settings.definitions import markdown_table

    docs = (ROOT / "docs" / "settings.md").read_text()
    start, end = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
    assert docs[docs.index(start) + len(start) : docs.index(end)].strip() == markdown_table(), (
        "docs/settings.md is out of date: paste the output of `python -m shared.settings.definitions`"
        " between the markers"
    )


def test_identity_based_storage_uses_the_configured_managed_identity():
    """Only the client construction is checked here: Entra ID itself cannot run on this machine."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    from shared.storage import connect

    env = {k: v for k, v in VALID.items() if k != "PIPELINE_STORAGE"}
    env.update(
        PIPELINE_STORAGE__blobServiceUri="https://acct.blob.core.windows.net",
        PIPELINE_STORAGE__queueServiceUri="https://acct.queue.core.windows.net",
        PIPELINE_STORAGE__credential="managedidentity",
        PIPELINE_STORAGE__clientId="11111111-2222-3333-4444-555555555555",
    )
    storage = connect(load_settings(env))
    assert storage.blobs.url.startswith("https://acct.blob.core.windows.net")
    assert storage.queues.url.startswith("https://acct.queue.core.windows.net")
    assert isinstance(storage.blobs.credential, ManagedIdentityCredential)

    env.pop("PIPELINE_STORAGE__credential")
    assert isinstance(connect(load_settings(env)).blobs.credential, DefaultAzureCredential)


def test_customvision_clients_leave_retries_to_us_and_time_out():
    from shared.customvision.clients import CustomVision

    cv = CustomVision(load_settings({**VALID, "CUSTOMVISION_TIMEOUT_SECONDS": "7"}))
    for client in (cv.trainer, cv.predictor):
        assert client.config.retry_policy.retries == 0
        assert client.config.connection.timeout == (7.0, 7.0)


# --- the review reason -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probabilities", "reason"),
    [
        ((0.6, 0.4), None),  # the top tag reaches REVIEW_THRESHOLD: no review
        ((0.55, 0.45), "low_confidence"),  # a Multiclass model hesitating between two tags
        ((0.5, 0.3, 0.2), "low_confidence"),
        ((0.2, 0.1, 0.05), "unknown"),  # the open-set score took the mass away: like none of the tags
        ((0.3, 0.15), "unknown"),  # all tags together hold less than half
        ((0.35, 0.24), "low_confidence"),  # at the edge of the training data: half or more is left
        ((0.4, 0.4, 0.3), "low_confidence"),  # Multilabel: no tag sure, together they are
        ((), "unknown"),
    ],
)
def test_review_reason_tells_hesitation_from_an_unknown_image(probabilities, reason):
    predictions = [Prediction(f"t{i}", None, p) for i, p in enumerate(probabilities)]
    assert review_reason(predictions, 0.6) == reason
