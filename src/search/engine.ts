import { errors } from '../errors.js';
import type { Database, Queryable, StoredVersion, WriteHook } from '../store/index.js';
import { toStoredVersion } from '../store/read.js';
import { compartmentCondition } from './compartment.js';
import { decodeCursor, encodeCursor, type Cursor } from './cursor.js';
import { includedResources } from './include.js';
import { customParameterHook, followCustomParameters } from './custom-parameters.js';
import { searchIndexHook } from './index-writer.js';
import { Reindexer, ReindexWorker } from './reindex.js';
import { SearchParameterRegistry } from './registry.js';
import { parseSearchParams, type ParsedSearchParams } from './request.js';
import { criterionCondition, UnknownParameterError } from './sql/builder.js';
import { BuildContext } from './sql/context.js';
import { and, assemble, fragment, or, type SqlFragment } from './sql/fragment.js';
import { parseSort, type SortKey } from './sql/sort.js';
import { Terminology } from './terminology.js';

export interface SearchRequest {
  /** The types searched; none means every type (system-level search). */
  types: string[];
  params: URLSearchParams;
  /** `Prefer: handling=strict`: unknown parameters are errors instead of warnings. */
  strict: boolean;
  /** A compartment search (`Patient/123/Observation`). */
  compartment?: { type: string; id: string };
}

export interface SearchPage {
  matches: StoredVersion[];
  included: StoredVersion[];
  total?: number;
  /** Cursors for the next and previous pages, when there are such pages. */
  next?: string;
  previous?: string;
  warnings: string[];
  /** `_summary=count`: only the total is wanted. */
  countOnly: boolean;
}

const ALIAS = 'r';

/**
 * FHIR search over the index tables: the request's criteria become one SQL query (every value a
 * bind parameter), its page is found by keyset (the sort values and id of the last row seen), and
 * `_include`/`_revinclude` are read for the page. Also the index-writing hook for the write path.
 */
export class SearchEngine {
  readonly registry = new SearchParameterRegistry();
  readonly reindexer: Reindexer;
  private readonly terminology = new Terminology();
  private worker?: ReindexWorker;
  private stopFollowing?: () => Promise<void>;

  constructor(
    private readonly baseUrl: string,
    /** `$reindex` of up to this many resources runs within the request; more become a background job. */
    readonly reindexInlineLimit = 1000,
  ) {
    this.reindexer = new Reindexer(this.registry, baseUrl);
  }

  /** The write hooks of search, in order: custom SearchParameters are checked and registered, then rows indexed. */
  writeHooks(): WriteHook[] {
    return [customParameterHook(this.registry), searchIndexHook(this.registry, this.baseUrl)];
  }

  /** Loads and follows the custom SearchParameters, and works on background reindex jobs, until `stop`. */
  async start(db: Database): Promise<void> {
    this.stopFollowing = await followCustomParameters(db, this.registry, db.connectionString);
    this.worker = new ReindexWorker(this.reindexer, db);
    this.worker.start();
  }

  /** Wakes the background reindexing up now (a job was just queued) instead of at its next poll. */
  kickReindex(): void {
    this.worker?.kick();
  }

  async stop(): Promise<void> {
    this.worker?.stop();
    await this.stopFollowing?.();
  }

  private async whereClause(context: BuildContext, request: SearchRequest, parsed: ParsedSearchParams): Promise<SqlFragment> {
    const conditions: SqlFragment[] = [fragment(`NOT ${ALIAS}.deleted`)];
    if (request.types.length === 1) conditions.push(fragment(`${ALIAS}.resource_type = $?`, request.types[0]));
    else if (request.types.length > 1) conditions.push(fragment(`${ALIAS}.resource_type = ANY($?::text[])`, request.types));
    if (request.compartment) conditions.push(compartmentCondition(request.compartment.type, request.compartment.id, ALIAS));
    for (const { key, values } of parsed.criteria) {
      try {
        conditions.push(await criterionCondition(context, request.types, key, values, ALIAS));
      } catch (error) {
        if (!(error instanceof UnknownParameterError) || request.strict) throw error;
        parsed.warnings.push(`${error.message}; it was ignored`);
      }
    }
    return and(conditions);
  }

  async search(db: Queryable, request: SearchRequest): Promise<SearchPage> {
    const parsed = parseSearchParams(request.params, request.strict);
    const context = new BuildContext(this.registry, this.terminology, db, this.baseUrl);
    const where = await this.whereClause(context, request, parsed);
    const sort = parseSort(context, request.types, parsed.sort, ALIAS);
    const cursor = parsed.cursor ? decodeCursor(parsed.cursor) : undefined;
    if (cursor && cursor.values.length !== sort.length + 2) throw errors.invalidSearchValue('_cursor', parsed.cursor as string, 'does not belong to this search');

    const total = cursor?.total ?? (parsed.total === 'none' ? undefined : await this.count(db, where, parsed.total));
    if (parsed.summaryCount || parsed.count === 0) return { matches: [], included: [], total, warnings: parsed.warnings, countOnly: true };

    const rows = await this.page(db, where, sort, parsed.count, cursor);
    const hasMore = rows.length > parsed.count;
    const page = rows.slice(0, parsed.count);
    if (cursor?.direction === 'previous') page.reverse();
    const matches = page.map((row) => row.version);
    const included = await includedResources(db, this.registry, matches, parsed.include, parsed.revinclude);
    const position = (row: PageRow | undefined, direction: Cursor['direction']) => row && encodeCursor({ direction, values: row.position, total });
    const backwards = cursor?.direction === 'previous';
    return {
      matches,
      included,
      total,
      next: (backwards || hasMore) && page.length ? position(page[page.length - 1], 'next') : undefined,
      previous: (cursor && !backwards) || (backwards && hasMore) ? position(page[0], 'previous') : undefined,
      warnings: parsed.warnings,
      countOnly: false,
    };
  }

  private async count(db: Queryable, where: SqlFragment, mode: 'estimate' | 'accurate'): Promise<number> {
    const query = assemble(fragment(`SELECT count(*) AS total FROM resource ${ALIAS} WHERE ${where.sql}`, ...where.values));
    if (mode === 'estimate') {
      const { rows } = await db.query<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(`EXPLAIN (FORMAT JSON) ${query.sql}`, query.values);
      const plan = rows[0]['QUERY PLAN'][0].Plan as unknown as { Plans?: { 'Plan Rows': number }[]; 'Plan Rows': number };
      return Math.round(plan.Plans?.[0]?.['Plan Rows'] ?? plan['Plan Rows']);
    }
    const { rows } = await db.query<{ total: string }>(query.sql, query.values);
    return Number(rows[0].total);
  }

  /** One page by keyset: the rows after (or before) the cursor in the total order (sort keys, type, id). */
  private async page(db: Queryable, where: SqlFragment, sort: SortKey[], count: number, cursor: Cursor | undefined): Promise<PageRow[]> {
    const backwards = cursor?.direction === 'previous';
    const keys: SqlFragment[] = sort.map((key, i) => fragment(`${key.expression.sql} AS s${i}`, ...key.expression.values));
    const select = [fragment(`${ALIAS}.resource_type, ${ALIAS}.id`), ...keys];
    const order = [
      ...sort.map((key, i) => `q.s${i} ${key.descending !== backwards ? 'DESC' : 'ASC'} NULLS ${backwards ? 'FIRST' : 'LAST'}`),
      `q.resource_type ${backwards ? 'DESC' : 'ASC'}`,
      `q.id ${backwards ? 'DESC' : 'ASC'}`,
    ].join(', ');
    const after = cursor ? keysetCondition(sort, cursor, backwards) : fragment('TRUE');
    const inner = {
      sql: `SELECT ${select.map((s) => s.sql).join(', ')} FROM resource ${ALIAS} WHERE ${where.sql}`,
      values: [...select.flatMap((s) => s.values), ...where.values],
    };
    const query = assemble({
      sql: `WITH page AS (SELECT q.* FROM (${inner.sql}) q WHERE ${after.sql} ORDER BY ${order} LIMIT ${count + 1})
            SELECT page.*, r.version_id, r.last_updated, false AS deleted, r.content::text AS json
              FROM page JOIN resource r ON r.resource_type = page.resource_type AND r.id = page.id
             ORDER BY ${order.replace(/q\./g, 'page.')}`,
      values: [...inner.values, ...after.values],
    });
    const { rows } = await db.query(query.sql, query.values);
    return rows.map((row) => ({
      version: toStoredVersion(row),
      position: [...sort.map((_, i) => sortValueText(row[`s${i}`])), row.resource_type, row.id],
    }));
  }

  /** The resources a conditional interaction's criteria select; unknown parameters are errors here. */
  async findMatches(db: Queryable, type: string, queryString: string, limit = 2): Promise<StoredVersion[]> {
    const params = new URLSearchParams(queryString);
    params.set('_count', String(limit));
    params.set('_total', 'none');
    const page = await this.search(db, { types: [type], params, strict: true });
    return page.matches;
  }
}

interface PageRow {
  version: StoredVersion;
  position: (string | null)[];
}

function sortValueText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : String(value);
}

/**
 * Rows strictly after the cursor in the page order (or before it, going backwards): the first sort
 * key beyond the cursor's value, or equal to it and the rest beyond, down to type and id. Nulls sort last.
 */
function keysetCondition(sort: SortKey[], cursor: Cursor, backwards: boolean): SqlFragment {
  const typeIndex = sort.length;
  let condition = backwards
    ? fragment('(q.resource_type, q.id) < ($?, $?)', cursor.values[typeIndex], cursor.values[typeIndex + 1])
    : fragment('(q.resource_type, q.id) > ($?, $?)', cursor.values[typeIndex], cursor.values[typeIndex + 1]);
  for (let i = sort.length - 1; i >= 0; i--) {
    const column = `q.s${i}`;
    const value = cursor.values[i];
    const cast = `$?::${sort[i].sqlType}`;
    const forward = sort[i].descending === backwards; // ascending in the page's direction of travel
    const beyond =
      value === null
        ? backwards ? fragment(`${column} IS NOT NULL`) : fragment('FALSE')
        : backwards
          ? fragment(`${column} ${forward ? '<' : '>'} ${cast}`, value)
          : fragment(`(${column} ${forward ? '>' : '<'} ${cast} OR ${column} IS NULL)`, value);
    const equal = value === null ? fragment(`${column} IS NULL`) : fragment(`${column} = ${cast}`, value);
    condition = or([beyond, and([equal, condition])]);
  }
  return condition;
}
