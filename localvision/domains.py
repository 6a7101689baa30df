"""The service's well-known domains, with their real ids (Microsoft Learn, "Select a domain")."""

from __future__ import annotations

from dataclasses import dataclass

GENERAL_CLASSIFICATION = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
COMPACT_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK", "OpenVino")


@dataclass(frozen=True)
class Domain:
    id: str
    name: str
    type: str  # Classification | ObjectDetection
    exportable: bool = False
    model_size_mb: int = 0
    description: str = ""

    @property
    def exportable_platforms(self) -> list[str]:
        if not self.exportable:
            return []
        if self.type == "ObjectDetection" and self.name == "General (compact)":
            return [p for p in COMPACT_PLATFORMS if p != "VAIDK"]
        return list(COMPACT_PLATFORMS)


DOMAINS: tuple[Domain, ...] = (
    Domain(GENERAL_CLASSIFICATION, "General", "Classification", description="General classification"),
    Domain("a8e3c40f-fb4a-466f-832a-5e457ae4a344", "General [A1]", "Classification",
           description="Better accuracy, longer training"),
    Domain("2e37d7fb-3a54-486a-b4d6-cfc369af0018", "General [A2]", "Classification",
           description="Faster inference"),
    Domain("c151d5b5-dd07-472a-acc8-15d29dea8518", "Food", "Classification", description="Dishes and fruit"),
    Domain("ca455789-012d-4b50-9fec-5bb63841c793", "Landmarks", "Classification",
           description="Natural and artificial landmarks"),
    Domain("b30a91ae-e3c1-4f73-a81e-c270bff27c39", "Retail", "Classification",
           description="Shopping catalogue images"),
    Domain("0732100f-1a38-4e49-a514-c9b44c697ab5", "General (compact)", "Classification", True, 6),
    Domain("a1db07ca-a19a-4830-bae8-e004a42dc863", "General (compact) [S1]", "Classification", True, 43),
    Domain("8882951b-82cd-4c32-970b-d5f8cb8bf6d7", "Food (compact)", "Classification", True, 6),
    Domain("b5cfd229-2ac7-4b2b-8d0a-2b0661344894", "Landmarks (compact)", "Classification", True, 6),
    Domain("6b4faeda-8396-481b-9f8b-177b9fa3097f", "Retail (compact)", "Classification", True, 6),
    Domain("da2e3a8a-40a5-4171-82f4-58522f70fbc1", "General", "ObjectDetection"),
    Domain("9c616dff-2e7d-ea11-af59-1866da359ce6", "General [A1]", "ObjectDetection"),
    Domain("1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4", "Logo", "ObjectDetection"),
    Domain("3780a898-81c3-4516-81ae-3a139614e1f3", "Products on Shelves", "ObjectDetection"),
    Domain("a27d5ca5-bb19-49d8-a70a-fec086c47f5b", "General (compact)", "ObjectDetection", True, 45),
    Domain("7ec2ac80-887b-48a6-8df9-8b1357765430", "General (compact) [S1]", "ObjectDetection", True, 14),
)  # fmt: skip

_BY_ID = {domain.id: domain for domain in DOMAINS}


def find_domain(domain_id: str) -> Domain | None:
    return _BY_ID.get(domain_id.lower())
