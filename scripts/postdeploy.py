"""azd postdeploy hook: subscribe the classify function to BlobCreated events of the images container.

The subscription targets the blob extension's webhook, whose key (blobs_extension) exists only once the
deployed code has started, so it cannot be part of the Bicep deployment. The steps, each bounded:

1. refresh the app's Key Vault references (App Service caches them; a reference that could not resolve at the
   first start, while its role assignment was still propagating, stays unresolved until refreshed) and, when
   one was unresolved, restart the app so that it imports the code again with the secret;
2. wait until the functions are indexed (no blobs_extension key before the blob trigger runs);
3. read the blobs_extension key;
4. warm the app (Event Grid validates the webhook synchronously; a cold Flex app may miss that answer);
5. PUT the Event Grid subscription (idempotent) and wait for its validation; when it ends Failed, warm the app
   and try once more.

Safe to run again: the PUT updates an existing subscription. Standard library only (see azcli.py).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from azcli import Az, HookError, environment, main, number, say, warn

HOOK = "postdeploy"
REQUIRED = (
    "AZURE_SUBSCRIPTION_ID",
    "RESOURCE_GROUP",
    "AZURE_FUNCTION_APP_NAME",
    "SERVICE_PIPELINE_BASE_URL",
    "EVENTGRID_SYSTEM_TOPIC_NAME",
    "AZURE_STORAGE_ACCOUNT_ID",
    "IMAGES_CONTAINER",
    "EVENTGRID_DEADLETTER_CONTAINER",
    "CLASSIFY_FUNCTION_NAME",
)
EVENTGRID_API = "2022-06-15"
WEB_API = "2022-03-01"
# An anonymous route of the app (the console's static files): any answer below 500 means the worker runs.
WARM_PATH = "/api/console/"
WARM_TIMEOUT_SECONDS = 60


def subscription_body(
    webhook: str, images_container: str, storage_id: str, dead_letter: str
) -> dict[str, Any]:
    """The Event Grid subscription: BlobCreated under images/, one event a delivery, dead letters kept."""
    return {
        "properties": {
            "destination": {
                "endpointType": "WebHook",
                "properties": {
                    "endpointUrl": webhook,
                    "maxEventsPerBatch": 1,
                    "preferredBatchSizeInKilobytes": 64,
                },
            },
            "filter": {
                "includedEventTypes": ["Microsoft.Storage.BlobCreated"],
                "subjectBeginsWith": f"/blobServices/default/containers/{images_container}/",
                "isSubjectCaseSensitive": False,
            },
            "eventDeliverySchema": "EventGridSchema",
            "retryPolicy": {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440},
            "deadLetterWithResourceIdentity": {
                "identity": {"type": "SystemAssigned"},
                "deadLetterDestination": {
                    "endpointType": "StorageBlob",
                    "properties": {"resourceId": storage_id, "blobContainerName": dead_letter},
                },
            },
        }
    }


@dataclass
class Deployment:
    az: Az
    values: dict[str, str]
    attempts: int
    delay: float

    @property
    def app(self) -> str:
        return self.values["AZURE_FUNCTION_APP_NAME"]

    def site(self, path: str) -> str:
        group = self.values["RESOURCE_GROUP"]
        return self.az.arm(f"resourceGroups/{group}/providers/Microsoft.Web/sites/{self.app}/{path}")

    def app_args(self) -> list[str]:
        group = self.values["RESOURCE_GROUP"]
        return ["--subscription", self.az.subscription, "--resource-group", group, "--name", self.app]

    def wait(self, what: str, attempt: int) -> None:
        if attempt >= self.attempts:
            raise HookError(what)
        time.sleep(self.delay)

    def refresh_key_vault_references(self) -> None:
        say(HOOK, f"refreshing the Key Vault references of {self.app}")
        refresh = self.site(f"config/configreferences/appsettings/refresh?api-version={WEB_API}")
        self.az.run("refreshing the Key Vault references", ["rest", "--method", "post", "--url", refresh])
        status_url = self.site(f"config/configreferences/appsettings?api-version={WEB_API}")
        query = "value[?properties.status!='Resolved'].name"
        restart = False
        for attempt in range(1, self.attempts + 1):
            unresolved = json.loads(
                self.az.run(
                    "reading the Key Vault references' status",
                    ["rest", "--method", "get", "--url", status_url, "--query", query, "-o", "json"],
                )
                or "[]"
            )
            if not unresolved:
                break
            restart = True
            say(
                HOOK,
                f"unresolved Key Vault references {', '.join(unresolved)} (check {attempt}/{self.attempts})",
            )
            self.wait(
                f"Key Vault references still unresolved after {self.attempts} checks: "
                f"{', '.join(unresolved)}. Check that the app's identity has Key Vault Secrets User on the "
                "vault, then run the hook again.",
                attempt,
            )
        if restart:
            say(HOOK, f"restarting {self.app} so that it starts with the resolved secrets")
            self.az.run(f"restarting {self.app}", ["functionapp", "restart", *self.app_args()])

    def wait_for_indexing(self) -> None:
        function = self.values["CLASSIFY_FUNCTION_NAME"]
        for attempt in range(1, self.attempts + 1):
            names = self.az.run(
                f"listing the functions of {self.app}",
                ["functionapp", "function", "list", *self.app_args(), "--query", "[].name", "-o", "tsv"],
            ).split()
            if f"{self.app}/{function}" in names or function in names:
                say(HOOK, f"{len(names)} functions indexed, {function} among them")
                return
            say(HOOK, f"functions not indexed yet (check {attempt}/{self.attempts}), waiting {self.delay:g}s")
            self.wait(
                f"the function {function} is not indexed after {self.attempts} checks: the app did not load "
                "function_app.py. Its start-up error is in Application Insights (exceptions) or the log "
                "stream (az webapp log tail); fix it, run 'azd deploy', then run the hook again.",
                attempt,
            )

    def blobs_extension_key(self) -> str:
        say(HOOK, f"reading the blobs_extension key of {self.app}")
        for attempt in range(1, self.attempts + 1):
            key = self.az.run(
                f"reading the function keys of {self.app}",
                [
                    "functionapp",
                    "keys",
                    "list",
                    *self.app_args(),
                    "--query",
                    "systemKeys.blobs_extension",
                    "-o",
                    "tsv",
                ],
            )
            if key:
                return key
            say(HOOK, f"key not there yet (attempt {attempt}/{self.attempts}), waiting {self.delay:g}s")
            self.wait(
                f"no blobs_extension key after {self.attempts} attempts. The host creates it when it starts "
                "the blob trigger: check the deployment and the app's logs, then run the hook again.",
                attempt,
            )
        raise AssertionError("unreachable")

    def warm(self) -> None:
        url = self.values["SERVICE_PIPELINE_BASE_URL"].rstrip("/") + WARM_PATH
        for attempt in range(1, self.attempts + 1):
            try:
                with urllib.request.urlopen(url, timeout=WARM_TIMEOUT_SECONDS) as answer:
                    status = answer.status
            except urllib.error.HTTPError as error:
                status = error.code
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                status, reason = 0, str(getattr(error, "reason", error))
            if 0 < status < 500:
                say(HOOK, f"the app answers ({status} from {WARM_PATH})")
                return
            say(HOOK, f"warming the app: {status or reason} (attempt {attempt}/{self.attempts})")
            self.wait(
                f"the app at {url} did not answer after {self.attempts} attempts; check that it runs.",
                attempt,
            )

    def subscribe(self, key: str) -> None:
        values = self.values
        name = values.get("EVENTGRID_SUBSCRIPTION_NAME") or "classifyimages"
        base = values["SERVICE_PIPELINE_BASE_URL"].rstrip("/")
        webhook = (
            f"{base}/runtime/webhooks/blobs?functionName=Host.Functions.{values['CLASSIFY_FUNCTION_NAME']}"
        )
        topic = values["EVENTGRID_SYSTEM_TOPIC_NAME"]
        url = self.az.arm(
            f"resourceGroups/{values['RESOURCE_GROUP']}/providers/Microsoft.EventGrid/systemTopics/{topic}"
            f"/eventSubscriptions/{name}?api-version={EVENTGRID_API}"
        )
        body = subscription_body(
            f"{webhook}&code={key}",
            values["IMAGES_CONTAINER"],
            values["AZURE_STORAGE_ACCOUNT_ID"],
            values["EVENTGRID_DEADLETTER_CONTAINER"],
        )
        images = values["IMAGES_CONTAINER"]
        for round_ in (1, 2):
            self.warm()
            say(HOOK, f"subscribing {webhook}&code=*** to BlobCreated in '{images}'")
            self._put(url, body)
            state = self._validation(url, name)
            if state == "Succeeded":
                say(HOOK, f"Event Grid subscription '{name}' is ready")
                return
            if round_ == 1 and state == "Failed":
                warn(
                    HOOK,
                    f"Event Grid subscription '{name}' ended Failed; warming the app and trying once more",
                )
                continue
            raise HookError(
                f"Event Grid subscription '{name}' ended in state {state}; the webhook validation failed: "
                "check that the classify function is deployed and running, then run the hook again."
            )

    def _put(self, url: str, body: dict[str, Any]) -> None:
        # The body holds the key: a private temporary file (mode 0600), removed afterwards, never printed.
        handle, path = tempfile.mkstemp(prefix="eventgrid-", suffix=".json")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(body, file)
            # A PUT of the same body is idempotent, so a transient failure is retried like a GET.
            self.az.run(
                "creating the Event Grid subscription",
                ["rest", "--method", "put", "--url", url, "--body", f"@{path}", "--output", "none"],
            )
        finally:
            os.remove(path)

    def _validation(self, url: str, name: str) -> str:
        """The subscription's final provisioning state (Event Grid validates the webhook first)."""
        for attempt in range(1, self.attempts + 1):
            state = self.az.run(
                "reading the Event Grid subscription's state",
                [
                    "rest",
                    "--method",
                    "get",
                    "--url",
                    url,
                    "--query",
                    "properties.provisioningState",
                    "-o",
                    "tsv",
                ],
            )
            if state in ("Succeeded", "Failed", "Canceled"):
                return state
            say(HOOK, f"subscription '{state}' (check {attempt}/{self.attempts}), waiting {self.delay:g}s")
            self.wait(
                f"subscription still '{state}' after {self.attempts} checks; run the hook again.", attempt
            )
        raise AssertionError("unreachable")


def run() -> None:
    values = environment(HOOK, REQUIRED, trigger="AZURE_FUNCTION_APP_NAME")
    delay = number(values, "POSTDEPLOY_DELAY_SECONDS", 10)
    az = Az(HOOK, values["AZURE_SUBSCRIPTION_ID"], number(values, "POSTDEPLOY_RETRIES", 3), delay)
    az.check_signed_in()
    deployment = Deployment(az, values, number(values, "POSTDEPLOY_ATTEMPTS", 30), delay)
    deployment.refresh_key_vault_references()
    deployment.wait_for_indexing()
    key = deployment.blobs_extension_key()
    deployment.subscribe(key)


if __name__ == "__main__":
    main(HOOK, run)
