/**
 * Migrations deployed to one environment share one EventBridge bus. A sync rule matches events
 * by source (`cutover.legacy` / `cutover.service`) and detail type (`migration.<entity>.changed`,
 * `<entity>.updated` and the entity's `serviceEvents`), which carry the entity's name but not the
 * migration's: two migrations with an entity of the same name would consume each other's
 * changes. Synthesis refuses that overlap here rather than putting the migration's name into the
 * event contract, which every producer (poller, Debezium ingest, stream capture, the services'
 * own domain events) and consumer (rules, replay filters, dashboards) relies on.
 */
import { serviceDetailType } from '../../lambdas/domain/events.js';
import { legacyEventOf, type MigrationSpec, serviceEventsOf } from './schema.js';

/** Two migrations would share an event on the bus; the message names both and the entity. */
export class MigrationOverlapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationOverlapError';
  }
}

/** The detail types an entity's sync rules match on the bus, each with the entity it belongs to. */
export function busDetailTypes(spec: MigrationSpec): { detailType: string; entity: string }[] {
  return spec.services.flatMap((s) =>
    s.entities.flatMap((e) =>
      [legacyEventOf(e), ...serviceEventsOf(e), serviceDetailType(e.name)].map((detailType) => ({
        detailType,
        entity: e.name,
      })),
    ),
  );
}

/**
 * Refuses migrations whose sync rules would match each other's events on the shared bus.
 * @throws MigrationOverlapError naming both migrations, both entities and the event
 */
export function assertNoSharedEvents(specs: readonly MigrationSpec[]): void {
  const owner = new Map<string, { migration: string; entity: string }>();
  for (const spec of specs) {
    for (const { detailType, entity } of busDetailTypes(spec)) {
      const first = owner.get(detailType);
      if (first && first.migration !== spec.name) {
        const who =
          first.entity === entity
            ? `both have an entity "${entity}"`
            : `have entities "${first.entity}" and "${entity}" that both emit "${detailType}"`;
        throw new MigrationOverlapError(
          `Migrations "${first.migration}" and "${spec.name}" cannot share one environment: they ${who}, ` +
            `so their sync rules on the shared bus would consume each other's "${detailType}" events. ` +
            'Entity names and service events must be unique across the migrations deployed to one environment: ' +
            'rename the entity (or its serviceEvents) in one of them.',
        );
      }
      if (!first) owner.set(detailType, { migration: spec.name, entity });
    }
  }
}
