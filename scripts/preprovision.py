"""azd preprovision hook: stop before provisioning what Azure would refuse, and say what to do instead.

- The azd environment's choices (CUSTOM_VISION_SKU, CUSTOMVISION_AUTH, VISION_BACKEND, CLASSIFIER_MODE) must
  be values infra/main.bicep accepts: a typo fails here, by name, not halfway through the deployment.
- A subscription may hold one free (F0) Custom Vision account of each kind (CustomVision.Training,
  CustomVision.Prediction); a second fails with CanNotCreateMultipleFreeAccounts, and a soft-deleted one (from
  `azd down` without --purge) still counts until it is purged. With CUSTOM_VISION_SKU=F0 the hook names every
  free account of those kinds outside this environment's resource group, and soft-deleted ones anywhere.

Nothing is looked up for S0 (the default) or the self-hosted backend, which creates no Custom Vision account;
the self-hosted backend takes keys, so it cannot be combined with CUSTOMVISION_AUTH=identity. Standard library
only (see azcli.py).
"""

from __future__ import annotations

import json
from typing import Any

from azcli import Az, HookError, environment, main, say

HOOK = "preprovision"
REQUIRED = ("AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME")
KINDS = ("CustomVision.Training", "CustomVision.Prediction")
# azd environment value -> (values infra/main.bicep accepts, default); see infra/main.parameters.json.
CHOICES = {
    "CUSTOM_VISION_SKU": (("F0", "S0"), "S0"),
    "CUSTOMVISION_AUTH": (("key", "identity"), "key"),
    "VISION_BACKEND": (("customvision", "selfhosted"), "customvision"),
    "CLASSIFIER_MODE": (("service", "onnx"), "onnx"),
}


def choices(values: dict[str, str]) -> dict[str, str]:
    chosen = {}
    for name, (allowed, default) in CHOICES.items():
        value = values.get(name) or default
        if value not in allowed:
            raise HookError(
                f"{name}={value!r} is not one of {', '.join(allowed)}; set it with "
                f"'azd env set {name} <value>' and run 'azd provision' again."
            )
        chosen[name] = value
    return chosen


def _group(account: dict[str, Any]) -> str:
    """The resource group of an account, or of a deleted one (its id holds /resourceGroups/<rg>/)."""
    if account.get("resourceGroup"):
        return str(account["resourceGroup"])
    parts = str(account.get("id", "")).split("/")
    lower = [part.lower() for part in parts]
    return parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else "?"


def free_accounts(az: Az, own_group: str) -> list[str]:
    """One line per free Custom Vision account that would make a new F0 account of its kind fail."""
    fields = "[].{name:name, kind:kind, sku:sku.name, location:location, resourceGroup:resourceGroup, id:id}"
    sub = ["--subscription", az.subscription, "--query", fields, "-o", "json"]
    live = json.loads(
        az.run("listing Cognitive Services accounts", ["cognitiveservices", "account", "list", *sub])
    )
    deleted = json.loads(
        az.run(
            "listing deleted Cognitive Services accounts",
            ["cognitiveservices", "account", "list-deleted", *sub],
        )
    )
    found = []
    for account in live or []:
        group = _group(account)
        if account["kind"] in KINDS and account.get("sku") == "F0" and group.lower() != own_group.lower():
            name, where = account["name"], account["location"]
            found.append(
                f"- {account['kind']} '{name}' in resource group '{group}' ({where}): delete it "
                f"(az cognitiveservices account delete -n {name} -g {group}) and purge it"
            )
    for account in deleted or []:
        if account["kind"] in KINDS and account.get("sku") in ("F0", None):
            group = _group(account)
            name, where = account["name"], account["location"]
            tier = "" if account.get("sku") else " (tier not reported)"
            found.append(
                f"- {account['kind']} '{name}', soft-deleted{tier}, of resource group '{group}': purge it "
                f"(az cognitiveservices account purge -n {name} -g {group} -l {where})"
            )
    return found


def run() -> None:
    values = environment(HOOK, REQUIRED, trigger="AZURE_ENV_NAME")
    chosen = choices(values)
    if chosen["VISION_BACKEND"] == "selfhosted" and chosen["CUSTOMVISION_AUTH"] == "identity":
        raise HookError(
            "CUSTOMVISION_AUTH=identity needs VISION_BACKEND=customvision: localvision in Azure takes its "
            "own keys. Run 'azd env set CUSTOMVISION_AUTH key' (or switch the backend back), then "
            "'azd provision'."
        )
    if chosen["VISION_BACKEND"] == "selfhosted" or chosen["CUSTOM_VISION_SKU"] != "F0":
        say(HOOK, f"{', '.join(f'{k}={v}' for k, v in chosen.items())}: no free-tier check needed")
        return
    az = Az(HOOK, values["AZURE_SUBSCRIPTION_ID"])
    az.check_signed_in()
    own_group = f"rg-{values['AZURE_ENV_NAME']}"  # infra/main.bicep: abbrs.resourcesResourceGroups + name
    say(HOOK, "CUSTOM_VISION_SKU=F0: looking for free Custom Vision accounts this subscription already holds")
    found = free_accounts(az, own_group)
    if found:
        raise HookError(
            "a subscription may hold one free (F0) Custom Vision account of each kind, and this one already "
            "holds:\n" + "\n".join(found) + "\nEither use S0 (azd env set CUSTOM_VISION_SKU S0) or free the "
            "accounts above as shown, then run 'azd provision' again."
        )
    say(HOOK, "no other free Custom Vision account: F0 can be created")


if __name__ == "__main__":
    main(HOOK, run)
