"""Domains and projects: create, read, update, delete (with everything a project owns)."""

from __future__ import annotations

from collections.abc import Sequence

from localvision import exceptions as errors
from localvision.domains import DOMAINS, GENERAL_CLASSIFICATION, Domain, find_domain
from localvision.limits import Tier
from localvision.state.entities import Project, new_id, utc_now
from localvision.state.ports import Models
from localvision.state.registry import Registry, retry_on_conflict
from localvision.state.validation import check_classification_type, check_project_name
from localvision.state.views import ProjectView


def domain(domain_id: str) -> Domain:
    found = find_domain(domain_id)
    if found is None:
        raise errors.DOMAIN_NOT_FOUND.error()
    return found


def _project_domain(domain_id: str) -> Domain:
    found = find_domain(domain_id)
    if found is None:
        raise errors.UNKNOWN_DOMAIN.error(domain_id=domain_id)
    return found


class ProjectService:
    def __init__(self, registry: Registry, models: Models, tier: Tier | None) -> None:
        self._registry = registry
        self._models = models
        self._tier = tier

    def domains(self) -> list[Domain]:
        return list(DOMAINS)

    def domain(self, domain_id: str) -> Domain:
        return domain(domain_id)

    def list(self) -> list[ProjectView]:
        with self._registry.lock:
            return [project.view() for project in self._registry.projects.values()]

    def get(self, project_id: str) -> ProjectView:
        with self._registry.lock:
            return self._registry.project(project_id).view()

    @retry_on_conflict
    def create(
        self,
        name: str | None,
        description: str | None = None,
        domain_id: str | None = None,
        classification_type: str | None = None,
        target_export_platforms: Sequence[str] = (),
    ) -> ProjectView:
        name = check_project_name(name)
        chosen = _project_domain(domain_id or GENERAL_CLASSIFICATION)
        classification = check_classification_type(classification_type or "Multiclass")
        registry = self._registry
        with registry.lock:
            if self._tier and len(registry.projects) >= self._tier.max_projects:
                raise errors.PROJECT_LIMIT.error(tier=self._tier.name, limit=self._tier.max_projects)
            now = utc_now()
            project = Project(
                id=new_id(),
                name=name,
                description=description or "",
                domain_id=chosen.id,
                classification_type=classification,
                created=now,
                last_modified=now,
                target_export_platforms=list(target_export_platforms),
            )
            registry.projects[project.id] = project
            registry.save(project)
            return project.view()

    @retry_on_conflict
    def update(
        self,
        project_id: str,
        name: str | None,
        description: str | None,
        domain_id: str | None,
        classification_type: str | None,
        image_processing_settings: dict | None,
    ) -> ProjectView:
        with self._registry.lock:
            project = self._registry.project(project_id)
            new_name = check_project_name(name) if name is not None else project.name
            chosen = _project_domain(domain_id) if domain_id else domain(project.domain_id)
            if chosen.type != domain(project.domain_id).type:
                raise errors.DOMAIN_TYPE_CHANGE.error()
            classification = (
                check_classification_type(classification_type)
                if classification_type
                else project.classification_type
            )
            project.name, project.domain_id, project.classification_type = new_name, chosen.id, classification
            if description is not None:
                project.description = description
            if image_processing_settings is not None:
                project.image_processing_settings = image_processing_settings
            self._registry.save(project)
            return project.view()

    def delete(self, project_id: str) -> None:
        """Forget the project and remove its folder; a training in progress cleans up after itself."""
        registry = self._registry
        with registry.lock:
            project = registry.project(project_id)
            registry.forget(project.id)
            for iteration_id in project.iterations:
                self._models.forget(iteration_id)
            registry.store.delete_project(project.id)
