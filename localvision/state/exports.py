"""Exports: start one (the service's checks and errors), list them, hand a job to the exporter, record it.

Writing the zip runs behind the ``Exporter`` interface (``localvision.state.ports``); this module keeps the
export records (in the iteration, so they are saved with the project) and where their zips are.
"""

from __future__ import annotations

from localvision import exceptions as errors
from localvision.domains import find_domain
from localvision.state.entities import Export, Iteration, Project, utc_now
from localvision.state.ports import Exporter, ExportJob
from localvision.state.registry import Registry, retry_on_conflict
from localvision.state.views import ExportView

PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK", "OpenVino")  # the API's ExportPlatform


def _known(value: str | None, known: tuple[str, ...]) -> str | None:
    """``value`` spelled as in ``known`` (matched case-insensitively), or None."""
    return next((name for name in known if value and name.lower() == value.lower()), None)


class ExportService:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._exporter: Exporter | None = None

    def attach(self, exporter: Exporter) -> None:
        """Connect the exporter and start again the exports a stop interrupted."""
        self._exporter = exporter
        with self._registry.lock:
            for project in self._registry.projects.values():
                for iteration in project.iterations.values():
                    for export in iteration.exports:
                        if export.status == "Exporting":
                            exporter.submit(project.id, iteration.id, export.platform, export.flavor)

    def _version(self) -> str:
        return self._exporter.version() if self._exporter else ""

    def _checked(self, iteration: Iteration, platform_name: str | None, flavor_name: str | None):
        """(platform, flavor) as the exporter spells them, or the service's error."""
        platform = _known(platform_name, PLATFORMS)
        if platform is None:
            if not platform_name:
                raise errors.REQUIRED.error(name="platform")
            raise errors.EXPORT_PLATFORM.error(value=platform_name, known=", ".join(PLATFORMS))
        if iteration.status == "Training":
            raise errors.EXPORT_WHILE_TRAINING.error()
        if iteration.status != "Completed":
            raise errors.EXPORT_NOT_TRAINED.error(status=iteration.status)
        domain = find_domain(iteration.domain_id)
        if domain is None or platform not in domain.exportable_platforms:
            name = domain.name if domain else iteration.domain_id
            raise errors.EXPORT_DOMAIN.error(domain=name, platform=platform)
        flavors = self._exporter.flavors.get(platform) if self._exporter else None
        if flavors is None:
            raise errors.EXPORT_NOT_IMPLEMENTED.error(platform=platform)
        if not flavor_name:
            return platform, None
        flavor = _known(flavor_name, tuple(f for f in flavors if f))
        if flavor is None:
            known = ", ".join(f for f in flavors if f) or "no flavor"
            raise errors.EXPORT_FLAVOR.error(platform=platform, flavor=flavor_name, known=known)
        return platform, flavor

    @retry_on_conflict
    def start(
        self, project_id: str, iteration_id: str, platform_name: str | None, flavor_name: str | None
    ) -> ExportView:
        """Start an export; one already Done (and current) is returned as it is, as the service does."""
        registry = self._registry
        version = self._version()
        with registry.lock:
            project = registry.project(project_id)
            iteration = project.iteration(iteration_id)
            platform, flavor = self._checked(iteration, platform_name, flavor_name)
            export = iteration.export(platform, flavor)
            if export is not None and export.status == "Exporting":
                raise errors.EXPORT_IN_PROGRESS.error(what=f"{platform} {flavor or 'default'}")
            if export is not None and export.status == "Done" and export.version == version:
                return export.view(project.id, iteration.id, version)
            if export is not None:
                iteration.exports.remove(export)
            export = Export(platform, flavor, "Exporting", utc_now())
            iteration.exports.append(export)
            registry.save(project)
            view = export.view(project.id, iteration.id, version)
        if self._exporter is not None:
            self._exporter.submit(project.id, iteration.id, platform, flavor)
        return view

    def list(self, project_id: str, iteration_id: str) -> list[ExportView]:
        version = self._version()
        with self._registry.lock:
            project = self._registry.project(project_id)
            iteration = project.iteration(iteration_id)
            return [export.view(project.id, iteration.id, version) for export in iteration.exports]

    def file(self, project_id: str, iteration_id: str, file_name: str) -> bytes:
        """A Done export's zip (for its signed link), or NotFound."""
        with self._registry.lock:
            project = self._registry.project(project_id)
            iteration = project.iteration(iteration_id)
            done = [e for e in iteration.exports if e.status == "Done" and e.file_name == file_name]
            if not done:
                raise errors.EXPORT_NOT_FOUND.error()
        try:
            return self._registry.store.read_export(project.id, iteration.id, file_name)
        except OSError:  # deleted meanwhile
            raise errors.EXPORT_NOT_FOUND.error() from None

    # ----- the exporter's side -----

    def _live(self, project_id: str, iteration_id: str, platform: str, flavor: str | None):
        project = self._registry.projects.get(project_id)
        iteration = project.iterations.get(iteration_id) if project else None
        export = iteration.export(platform, flavor) if iteration else None
        return project, iteration, export

    def export_job(
        self, project_id: str, iteration_id: str, platform: str, flavor: str | None
    ) -> ExportJob | None:
        """What an export needs, or None if it was deleted or is no longer Exporting."""
        with self._registry.lock:
            _, iteration, export = self._live(project_id, iteration_id, platform, flavor)
            if iteration is None or export is None or export.status != "Exporting":
                return None
            domain = find_domain(iteration.domain_id)
            return ExportJob(
                project_id,
                iteration_id,
                platform,
                flavor,
                tuple(tag["name"] for tag in iteration.tags),
                domain.type if domain else "Classification",
                export.file_name,
            )

    @retry_on_conflict
    def finish_export(
        self,
        project_id: str,
        iteration_id: str,
        platform: str,
        flavor: str | None,
        version: str,
        error: str | None,
    ) -> None:
        """Record the outcome (the zip is written by then); remove it if its iteration went away."""
        registry = self._registry
        with registry.lock:
            project, iteration, export = self._live(project_id, iteration_id, platform, flavor)
            if export is None:
                _remove_orphan(registry, project, iteration, project_id, iteration_id, platform, flavor)
                return
            if export.status != "Exporting":
                return
            export.status, export.version, export.error = ("Failed" if error else "Done"), version, error
            registry.save(project)


def _remove_orphan(
    registry: Registry,
    project: Project | None,
    iteration: Iteration | None,
    project_id: str,
    iteration_id: str,
    platform: str,
    flavor: str | None,
) -> None:
    """An export whose project or iteration was deleted meanwhile: remove what it wrote."""
    if project is None:
        registry.store.delete_project(project_id)
    elif iteration is None:
        registry.store.delete_iteration(project_id, iteration_id)
    else:
        name = Export(platform, flavor, "", "").file_name
        registry.store.delete_export(project_id, iteration_id, name)
