/**
 * The fold of a definitions stream's events into the live definitions, by name. Every node
 * applies the same events in the same order (the shard's), so every node holds the same map: a
 * `create` counts only when no live definition has its name (a `create` of the live id only
 * renews its write time), a `delete` only when its id is the live one. Pure: no I/O, no clock.
 */

/** What every kept definition carries: a unique name and the id of this incarnation of it. */
export interface StoredDefinition {
  readonly name: string;
  readonly id: string;
}

/** One record of a definitions stream (JSON on the wire; see DefinitionsStream). */
export type DefinitionEvent<D extends StoredDefinition> =
  | { readonly type: "create"; readonly definition: D; readonly writtenAtMs: number }
  | { readonly type: "delete"; readonly name: string; readonly id: string };

export class DefinitionFold<D extends StoredDefinition> {
  private readonly live = new Map<string, { definition: D; writtenAtMs: number }>();

  apply(event: DefinitionEvent<D>): void {
    if (event.type === "create") {
      const current = this.live.get(event.definition.name);
      if (current === undefined) {
        this.live.set(event.definition.name, {
          definition: event.definition,
          writtenAtMs: event.writtenAtMs,
        });
      } else if (current.definition.id === event.definition.id) {
        current.writtenAtMs = event.writtenAtMs;
      }
    } else if (this.live.get(event.name)?.definition.id === event.id) {
      this.live.delete(event.name);
    }
  }

  /** The live definition of `name`, or undefined. */
  get(name: string): D | undefined {
    return this.live.get(name)?.definition;
  }

  /** A copy of the live definitions by name: later events do not change it. */
  definitions(): ReadonlyMap<string, D> {
    return new Map([...this.live].map(([name, entry]) => [name, entry.definition]));
  }

  /** The live definitions last written at least `ageMs` before `nowMs`. */
  writtenBefore(nowMs: number, ageMs: number): D[] {
    const out: D[] = [];
    for (const entry of this.live.values()) {
      if (nowMs - entry.writtenAtMs >= ageMs) out.push(entry.definition);
    }
    return out;
  }
}
