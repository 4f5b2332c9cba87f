import type { Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import { errors } from '../errors.js';
import { Database, isPgError, PG_ERRORS, type BatchedTransaction, type Queryable, type StoredVersion, type WriteHook } from '../store/index.js';
import { toStoredVersion, type VersionRow } from '../store/read.js';
import { grantsUnconfined, type AccessPolicy, type Permission } from '../smart-auth/index.js';
import { accessCondition, isVisible, visibleOnly } from './access.js';
import { compartmentCondition } from './compartment.js';
import { CostlyCounts } from './costly-counts.js';
import { decodeCursor, encodeCursor, type Cursor } from './cursor.js';
import { includedResources } from './include.js';
import { withImpliedComposites } from './implied-composites.js';
import { customParameterHook, followCustomParameters } from './custom-parameters.js';
import { extractIndexRows, type IndexRows } from './extract/index.js';
import { searchIndexHook, writeIndexRows } from './index-writer.js';
import { CriteriaSieve } from './criteria-sieve.js';
import { compilePrefilter, requiredPairs, RowIndex } from './prefilter.js';
import { Reindexer, ReindexWorker } from './reindex.js';
import { SearchParameterRegistry } from './registry.js';
import { parseSearchParams, type IgnoredParameter, type ParsedSearchParams } from './request.js';
import { criterionCondition, readsMoreThanKey, readsRow, UnknownParameterError } from './sql/builder.js';
import { BuildContext, isIndexExists } from './sql/context.js';
import { and, assemble, fragment, or, type SqlFragment } from './sql/fragment.js';
import { parseSort, type SortKey } from './sql/sort.js';
import { Terminology } from '../terminology/index.js';

export interface SearchRequest {
  /** The types searched; none means every type (system-level search). */
  types: string[];
  params: URLSearchParams;
  /** `Prefer: handling=strict`: unknown parameters are errors instead of warnings. */
  strict: boolean;
  /** A compartment search (`Patient/123/Observation`). */
  compartment?: { type: string; id: string };
  /** The requester's policy: only what it lets through is found, included or reached by a chain. */
  access?: AccessPolicy;
}

/** One search to evaluate against one resource version: its criteria, as seen by a policy (read permission). */
export interface VersionCheck {
  params: URLSearchParams;
  access?: AccessPolicy;
}

/** A version of a resource, current or past, with its content. */
export interface ResourceVersion {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string | Date;
  resource: Resource;
  /** Its index rows, when the caller extracted them already (versionIndex). */
  indexed?: IndexedVersion;
}

/** A version's index rows, and their exact values for the prefilter and the criteria sieve. */
export interface IndexedVersion {
  rows: IndexRows;
  index: RowIndex;
}

export interface SearchPage {
  matches: StoredVersion[];
  included: StoredVersion[];
  total?: number;
  /** Cursors for the next and previous pages, when there are such pages. */
  next?: string;
  previous?: string;
  ignored: IgnoredParameter[];
  /** `_summary=count`: only the total is wanted. */
  countOnly: boolean;
}

const ALIAS = 'r';
/** Without `_total=accurate`, totals above this are not counted (they cost as much as the result is large). */
const COUNT_LIMIT = 10_000;

/**
 * FHIR search over the index tables: the request's criteria become one SQL query (every value a
 * bind parameter), its page is found by keyset (the sort values and id of the last row seen), and
 * `_include`/`_revinclude` are read for the page. Also the index-writing hook for the write path.
 */
export class SearchEngine {
  readonly registry = new SearchParameterRegistry();
  readonly reindexer: Reindexer;
  private readonly terminology = new Terminology();
  private readonly costlyCounts = new CostlyCounts();
  private worker?: ReindexWorker;
  private stopFollowing?: () => Promise<void>;

  constructor(
    private readonly baseUrl: string,
    /** `$reindex` of up to this many resources runs within the request; more become a background job. */
    readonly reindexInlineLimit = 1000,
    /** A total not counted within this many milliseconds is left out (unless `_total=accurate`); 0: no limit. */
    private readonly countTimeoutMs = 0,
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

  private async whereClause(context: BuildContext, request: SearchRequest, parsed: ParsedSearchParams): Promise<SearchWhere> {
    const live = fragment(`NOT ${ALIAS}.deleted`);
    const conditions: SqlFragment[] = [live];
    if (request.types.length === 1) conditions.push(fragment(`${ALIAS}.resource_type = $?`, request.types[0]));
    else if (request.types.length > 1) conditions.push(fragment(`${ALIAS}.resource_type = ANY($?::text[])`, request.types));
    if (request.compartment) conditions.push(compartmentCondition(request.compartment.type, request.compartment.id, ALIAS));
    if (request.access) conditions.push(await accessCondition(context, request.access, request.types, ['s'], ALIAS));
    const only = request.types.length === 1 ? request.types[0] : undefined;
    const { criteria, replaced } = only ? withImpliedComposites(this.registry, only, parsed.criteria) : { criteria: parsed.criteria, replaced: [] };
    for (const { key, values } of replaced) await criterionCondition(context, request.types, key, values, ALIAS);
    for (const { key, values } of criteria) {
      try {
        conditions.push(await criterionCondition(context, request.types, key, values, ALIAS));
      } catch (error) {
        if (!(error instanceof UnknownParameterError) || request.strict) throw error;
        parsed.ignored.push({ name: key, message: `${error.message}; it was ignored` });
      }
    }
    return { all: and(conditions), byIndexRows: only ? byIndexRows(only, conditions.filter((c) => c !== live)) : undefined };
  }

  async search(db: Queryable, request: SearchRequest): Promise<SearchPage> {
    const parsed = parseSearchParams(request.params, request.strict);
    const context = new BuildContext(this.registry, this.terminology, db, this.baseUrl, request.access);
    const where = await this.whereClause(context, request, parsed);
    const sort = parseSort(context, request.types, parsed.sort, ALIAS);
    const cursor = parsed.cursor ? decodeCursor(parsed.cursor) : undefined;
    if (cursor) checkCursorValues(parsed.cursor as string, cursor, sort);
    // Every page of one paging sequence sees the data as of its first page (see Cursor.asOf).
    const asOf = cursor?.asOf ?? new Date().toISOString();
    const pageWhere = cursor ? and([where.all, fragment(`${ALIAS}.last_updated <= $?::timestamptz`, asOf)]) : where.all;

    if (parsed.summaryCount || parsed.count === 0) {
      // The count is all the client asked for: it is given however large, unless it asked otherwise.
      const mode = parsed.total === 'bounded' ? 'accurate' : parsed.total;
      const counted = mode === 'none' ? undefined : await this.count(db, where.all, mode);
      return { matches: [], included: [], total: counted, ignored: parsed.ignored, countOnly: true };
    }

    // The total is counted once, for the first page, and carried by the cursor: later pages of the
    // same snapshot have the same total, and counting again would cost as much as the result is large.
    const counted = !cursor && parsed.total === 'bounded' ? await this.firstPageCounted(db, where, sort, parsed.count) : undefined;
    const rows = counted?.rows ?? (await this.page(db, pageWhere, sort, parsed.count, cursor));
    const hasMore = rows.length > parsed.count;
    const page = rows.slice(0, parsed.count);
    let total = cursor ? cursor.total : counted?.total;
    if (!cursor && !counted) total = await this.firstPageTotal(db, where.all, parsed.total, page.length, hasMore);
    if (cursor?.direction === 'previous') page.reverse();
    const matches = page.map((row) => row.version);
    const found = await includedResources(db, this.registry, matches, parsed.include, parsed.revinclude);
    const included = request.access ? await visibleOnly(context, request.access, found) : found;
    const position = (row: PageRow | undefined, direction: Cursor['direction']) => row && encodeCursor({ direction, values: row.position, total, asOf });
    const backwards = cursor?.direction === 'previous';
    return {
      matches,
      included,
      total,
      next: (backwards || hasMore) && page.length ? position(page[page.length - 1], 'next') : undefined,
      previous: (cursor && !backwards) || (backwards && hasMore) ? position(page[0], 'previous') : undefined,
      ignored: parsed.ignored,
      countOnly: false,
    };
  }

  /**
   * The total of a first page that was not counted with it: none when none is asked for; the page's
   * own length when it holds every match; else as `_total` asks, and by default none (more than
   * COUNT_LIMIT matches, or not counted in time).
   */
  private async firstPageTotal(db: Queryable, where: SqlFragment, mode: ParsedSearchParams['total'], pageLength: number, hasMore: boolean): Promise<number | undefined> {
    if (mode === 'none') return undefined;
    if (!hasMore) return pageLength;
    return mode === 'bounded' ? undefined : this.count(db, where, mode);
  }

  /**
   * `Bundle.total` as `_total` asks for it: counted, however many, or the planner's estimate. (By
   * default the first page is counted with it, up to COUNT_LIMIT: see firstPageWithTotal.)
   */
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

  /**
   * Runs a count under PostgreSQL's statement timeout; undefined when it ran out. Inside a
   * caller's transaction the count runs unbounded in time: cancelling a statement would abort it.
   */
  private async withinCountTime(db: Queryable, sql: string, values: unknown[]): Promise<CountedRow[] | undefined> {
    if (!(db instanceof Database)) return (await searchQuery<CountedRow>(db, sql, values)).rows;
    try {
      return (await db.queryPrepared<CountedRow>(sql, values, this.countTimeoutMs)).rows;
    } catch (error) {
      if (isPgError(error, PG_ERRORS.queryCanceled)) return undefined;
      throw error;
    }
  }

  /** One page by keyset: the rows after (or before) the cursor in the total order (sort keys, type, id). */
  private async page(db: Queryable, where: SqlFragment, sort: SortKey[], count: number, cursor: Cursor | undefined): Promise<PageRow[]> {
    const backwards = cursor?.direction === 'previous';
    const order = pageOrder(sort, backwards);
    const after = cursor ? keysetCondition(sort, cursor, backwards) : fragment('TRUE');
    const inner = matchingKeys(fragment(`resource ${ALIAS}`), where, sort);
    const query = assemble({
      sql: `WITH page AS (SELECT q.* FROM (${inner.sql}) q WHERE ${after.sql} ORDER BY ${order} LIMIT ${count + 1})
            SELECT page.*, r.version_id, r.last_updated, false AS deleted, r.content::text AS json
              FROM page JOIN resource r ON r.resource_type = page.resource_type AND r.id = page.id
             ORDER BY ${order.replace(/q\./g, 'page.')}`,
      values: [...inner.values, ...after.values],
    });
    const { rows } = await searchQuery<KeyedRow>(db, query.sql, query.values);
    return rows.map((row) => pageRow(row, sort));
  }

  /** The first page with its total (firstPageWithTotal), unless the same search recently could not be counted. */
  private async firstPageCounted(db: Queryable, where: SearchWhere, sort: SortKey[], count: number): Promise<{ rows: PageRow[]; total: number } | undefined> {
    const key = `${where.all.sql} ${JSON.stringify(where.all.values)}`;
    if (this.costlyCounts.isCostly(key)) return undefined;
    const counted = await this.firstPageWithTotal(db, where, sort, count);
    if (!counted) this.costlyCounts.remember(key);
    return counted;
  }

  /**
   * The first page and the total in one statement, when there are at most COUNT_LIMIT matches and
   * they are counted within `countTimeoutMs`; otherwise undefined (and the caller pages without a
   * total). The page and the count would each find every match: here they are found once, and one
   * round trip is saved (a first page of `Patient?birthdate=ge…` at 1M resources: 7.5 ms of
   * PostgreSQL time against 7.2 + 6.8 ms for the two statements). A search with an indexed criterion
   * finds its matches from the index rows alone (see byIndexRows), where a resource may appear
   * once per matching row: they are made distinct, and more than COUNT_LIMIT rows count as too many.
   */
  private async firstPageWithTotal(db: Queryable, where: SearchWhere, sort: SortKey[], count: number): Promise<{ rows: PageRow[]; total: number } | undefined> {
    const order = pageOrder(sort, false);
    const byRows = where.byIndexRows && !sortReadsResourceRow(sort) ? where.byIndexRows : undefined;
    const inner = byRows ? matchingKeys(byRows.from, byRows.where, sort) : matchingKeys(fragment(`resource ${ALIAS}`), where.all, sort);
    const query = assemble({
      sql: `WITH found AS MATERIALIZED (${inner.sql} LIMIT ${COUNT_LIMIT + 1}),
                 m AS MATERIALIZED (SELECT ${byRows ? 'DISTINCT ' : ''}* FROM found),
                 page AS (SELECT q.* FROM m q ORDER BY ${order} LIMIT ${count + 1})
            SELECT t.total, t.found, page.*, r.version_id, r.last_updated, false AS deleted, r.content::text AS json
              FROM (SELECT (SELECT count(*) FROM m) AS total, (SELECT count(*) FROM found) AS found) t
              LEFT JOIN (page JOIN resource r ON r.resource_type = page.resource_type AND r.id = page.id) ON true
             ORDER BY ${order.replace(/q\./g, 'page.')}`,
      values: inner.values,
    });
    const rows = await this.withinCountTime(db, query.sql, query.values);
    if (!rows || Number(rows[0].found) > COUNT_LIMIT) return undefined;
    return { rows: rows.filter((row) => row.id !== null).map((row) => pageRow(row, sort)), total: Number(rows[0].total) };
  }

  /** The access policy as a condition on resource rows aliased `r` (history filters by it). */
  accessFilter(db: Queryable, policy: AccessPolicy, types: string[], permissions: Permission[]): Promise<SqlFragment> {
    return accessCondition(new BuildContext(this.registry, this.terminology, db, this.baseUrl), policy, types, permissions, 'r');
  }

  /** Whether the access policy lets one stored resource through (reads, and both sides of a write). */
  isVisible(db: Queryable, policy: AccessPolicy, type: string, id: string, permissions: Permission[]): Promise<boolean> {
    return isVisible(new BuildContext(this.registry, this.terminology, db, this.baseUrl), policy, type, id, permissions);
  }

  /**
   * Checks search criteria for one type without running them (subscription criteria and filters):
   * unknown parameters and bad values are the search's own 400 errors.
   */
  async checkCriteria(db: Queryable, type: string, params: URLSearchParams): Promise<void> {
    await criteriaConditions(new BuildContext(this.registry, this.terminology, db, this.baseUrl), type, params);
  }

  /**
   * The resource rows `r` of `type` that match one of several searches' criteria (`$export`'s
   * `_typeFilter`), with chains and `_has` seen through `policy`. Unknown parameters and bad
   * values are the search's own 400 errors.
   */
  async anyCriteriaCondition(db: Queryable, type: string, queries: string[], policy: AccessPolicy): Promise<SqlFragment> {
    const context = new BuildContext(this.registry, this.terminology, db, this.baseUrl, policy);
    const alternatives: SqlFragment[] = [];
    for (const query of queries) alternatives.push(and(await criteriaConditions(context, type, new URLSearchParams(query))));
    return or(alternatives);
  }

  /**
   * Whether one version of a resource matches each of several searches, each seen through its own
   * policy with read permission (what a subscription may notify about). The search runs on the
   * index tables, so its semantics are exactly the search API's. When the version is no longer the
   * current one (the resource changed again, or was deleted), the version is put in place of the
   * current row and index rows inside a savepoint, searched, and rolled back: `tx` must be a
   * transaction. A search whose criteria no longer build (a custom parameter removed) matches nothing.
   */
  async matchVersion(tx: BatchedTransaction, version: ResourceVersion, checks: VersionCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return [];
    // Many subscriptions ask the same, and most ask about other resources: identical checks are
    // asked once, and those the index rows decide (exact tokens and references they have or lack,
    // seen by a policy that reads the whole type) not at all.
    const { rows, index } = version.indexed ?? this.versionIndex(version.resource);
    const distinct = new Map<string, number>();
    const asked: VersionCheck[] = [];
    const slots = checks.map((check): number | boolean => {
      const compiled = this.compiledCheck(version.resourceType, check);
      const verdict = compiled.prefilter(index, version.id);
      if (verdict === 'no') return false;
      if (verdict === 'yes' && (!check.access || grantsUnconfined(check.access, version.resourceType, 'r'))) return true;
      let slot = distinct.get(compiled.key);
      if (slot === undefined) distinct.set(compiled.key, (slot = asked.push(check) - 1));
      return slot;
    });
    const answer = (row?: Record<string, boolean>) => slots.map((slot) => (typeof slot === 'boolean' ? slot : row?.[`m${slot}`] === true));
    if (asked.length === 0) return answer();
    const columns: SqlFragment[] = [];
    for (const check of asked) columns.push(await this.versionCondition(tx, version.resourceType, check));
    const select = (extra: string) =>
      assemble(
        fragment(
          `SELECT ${extra} AS current, ${columns.map((c, i) => `(${c.sql}) AS m${i}`).join(', ')}
             FROM resource ${ALIAS} WHERE ${ALIAS}.resource_type = $? AND ${ALIAS}.id = $?`,
          ...columns.flatMap((c) => c.values),
          version.resourceType,
          version.id,
        ),
      );
    const read = async (extra: string) => {
      const query = select(extra);
      const { rows: found } = await tx.query<Record<string, boolean>>(query.sql, query.values);
      return found[0];
    };
    const current = await read(`(${ALIAS}.version_id = ${Number(version.versionId)} AND NOT ${ALIAS}.deleted)`);
    if (current?.current) return answer(current);

    await tx.query('SAVEPOINT match_version');
    try {
      await tx.query(
        `INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, $3, $4, false, $5::jsonb)
         ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
           deleted = false, content = EXCLUDED.content`,
        [version.resourceType, version.id, version.versionId, version.lastUpdated, JSON.stringify(version.resource)],
      );
      writeIndexRows(tx, version.resourceType, version.id, rows, true);
      return answer(await read('TRUE'));
    } finally {
      await tx.query('ROLLBACK TO SAVEPOINT match_version');
      await tx.query('RELEASE SAVEPOINT match_version');
    }
  }

  /** A resource's index rows, as the write path extracts them, and their exact values. */
  versionIndex(resource: Resource): IndexedVersion {
    const rows = extractIndexRows(resource, this.registry, this.baseUrl);
    return { rows, index: new RowIndex(rows) };
  }

  /** An empty sieve for criteria on one type (see CriteriaSieve). */
  criteriaSieve<T>(type: string): CriteriaSieve<T> {
    return new CriteriaSieve<T>(this.registry, (params) => this.requiredPairsOf(type, params));
  }

  private readonly requiredPairsCache = new WeakMap<URLSearchParams, { type: string; version: number; pairs: string[] | undefined }>();

  /** requiredPairs, computed once per criteria object and registry version (sieves are rebuilt whenever a subscription changes). */
  private requiredPairsOf(type: string, params: URLSearchParams): string[] | undefined {
    const cached = this.requiredPairsCache.get(params);
    if (cached && cached.type === type && cached.version === this.registry.version) return cached.pairs;
    const pairs = requiredPairs(this.registry, type, params, this.baseUrl);
    this.requiredPairsCache.set(params, { type, version: this.registry.version, pairs });
    return pairs;
  }

  private readonly compiledChecks = new WeakMap<URLSearchParams, { type: string; version: number; key: string; prefilter: ReturnType<typeof compilePrefilter> }>();
  private readonly policyKeys = new WeakMap<AccessPolicy, string>();

  /** A check's prefilter and identity, computed once per criteria object (a subscription's) and registry version. */
  private compiledCheck(type: string, check: VersionCheck) {
    let compiled = this.compiledChecks.get(check.params);
    if (!compiled || compiled.type !== type || compiled.version !== this.registry.version) {
      compiled = {
        type,
        version: this.registry.version,
        key: check.params.toString(),
        prefilter: compilePrefilter(this.registry, type, check.params, this.baseUrl),
      };
      this.compiledChecks.set(check.params, compiled);
    }
    let policyKey = '';
    if (check.access) {
      policyKey = this.policyKeys.get(check.access) ?? JSON.stringify({ ...check.access, scopes: check.access.scopes.map((s) => s.text) });
      this.policyKeys.set(check.access, policyKey);
    }
    return { key: `${compiled.key}\u0000${policyKey}`, prefilter: compiled.prefilter };
  }

  private async versionCondition(db: Queryable, type: string, check: VersionCheck): Promise<SqlFragment> {
    try {
      const context = new BuildContext(this.registry, this.terminology, db, this.baseUrl, check.access);
      const conditions: SqlFragment[] = [];
      if (check.access) conditions.push(await accessCondition(context, check.access, [type], ['r'], ALIAS));
      conditions.push(...(await criteriaConditions(context, type, check.params)));
      return and(conditions);
    } catch {
      return fragment('FALSE');
    }
  }

  /**
   * The resources a conditional interaction's criteria select, among those the requester may see;
   * unknown parameters are errors here.
   */
  async findMatches(db: Queryable, type: string, queryString: string, limit = 2, access?: AccessPolicy): Promise<StoredVersion[]> {
    const params = new URLSearchParams(queryString);
    params.set('_count', String(limit));
    params.set('_total', 'none');
    const page = await this.search(db, { types: [type], params, strict: true, access });
    return page.matches;
  }
}

/** The conditions on `r` of a search's criteria on one type; unknown parameters and bad values are 400 errors. */
async function criteriaConditions(context: BuildContext, type: string, params: URLSearchParams): Promise<SqlFragment[]> {
  const conditions: SqlFragment[] = [];
  for (const { key, values } of parseSearchParams(params, true).criteria) conditions.push(await criterionCondition(context, [type], key, values, ALIAS));
  return conditions;
}

interface PageRow {
  version: StoredVersion;
  position: (string | null)[];
}

/** A row of a count, or of the first page with its total and the rows found (see firstPageWithTotal). */
type CountedRow = { total: string; found?: string } & KeyedRow;

/**
 * A search's conditions: `all` on the resource row `r`; `byIndexRows` when the same matches can be
 * found from the index rows of its first indexed criterion.
 */
interface SearchWhere {
  all: SqlFragment;
  byIndexRows?: { from: SqlFragment; where: SqlFragment };
}

function sortReadsResourceRow(sort: SortKey[]): boolean {
  return sort.some((key) => readsMoreThanKey(key.expression.sql, ALIAS));
}

/**
 * A search of one type with a criterion on index rows (`Patient?birthdate=ge…`, `Patient?name=…`,
 * `Observation?code=…&value-quantity=gt…`) can be found from those rows alone, as `r`
 * (resource_type, id): index rows exist only for live current versions (the write path replaces
 * them and removes them with a deletion), so no resource row needs reading, where the planner would
 * otherwise read one per candidate or hash all the type's rows (5,700 Patients for 380 birth dates;
 * 3,600 Observations of one code, two fifths of the search's time). The first such criterion gives
 * the keys; the other conditions (further criteria, the type, the access rule, a compartment) then
 * apply to those keys, and none may read other columns.
 */
function byIndexRows(type: string, conditions: SqlFragment[]): SearchWhere['byIndexRows'] {
  const indexed = conditions.filter(isIndexExists);
  if (indexed.length === 0) return undefined;
  const { table, param, alias: x, condition } = indexed[0].indexRow;
  // The row's own condition must stand alone (a canonical's `|version` also looks at the resource's other rows).
  if (readsRow(condition.sql, ALIAS)) return undefined;
  const rest = conditions.filter((c) => c !== indexed[0]);
  if (rest.some((c) => readsMoreThanKey(c.sql, ALIAS))) return undefined;
  return {
    from: fragment(`(SELECT ${x}.resource_type, ${x}.id FROM ${table} ${x} WHERE ${x}.resource_type = $? AND ${x}.param = $? AND (${condition.sql})) ${ALIAS}`, type, param, ...condition.values),
    where: and(rest),
  };
}

/** A resource row with its sort values (`s0`, `s1`...). */
type KeyedRow = VersionRow & Record<string, unknown>;

/** The keys (type, id and sort values `s0`, `s1`...) of every row `r` of `from` that matches `where`. */
function matchingKeys(from: SqlFragment, where: SqlFragment, sort: SortKey[]): SqlFragment {
  const keys = sort.map((key, i) => fragment(`${key.expression.sql} AS s${i}`, ...key.expression.values));
  const select = [fragment(`${ALIAS}.resource_type, ${ALIAS}.id`), ...keys];
  return {
    sql: `SELECT ${select.map((s) => s.sql).join(', ')} FROM ${from.sql} WHERE ${where.sql}`,
    values: [...select.flatMap((s) => s.values), ...from.values, ...where.values],
  };
}

/** The total order of a page over `q`: the sort keys, then type and id (reversed to page backwards). */
function pageOrder(sort: SortKey[], backwards: boolean): string {
  return [
    ...sort.map((key, i) => `q.s${i} ${key.descending !== backwards ? 'DESC' : 'ASC'} NULLS ${backwards ? 'FIRST' : 'LAST'}`),
    `q.resource_type ${backwards ? 'DESC' : 'ASC'}`,
    `q.id ${backwards ? 'DESC' : 'ASC'}`,
  ].join(', ');
}

function pageRow(row: KeyedRow, sort: SortKey[]): PageRow {
  return {
    version: toStoredVersion(row),
    position: [...sort.map((_, i) => sortValueText(row[`s${i}`])), row.resource_type, row.id],
  };
}

function sortValueText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : String(value);
}

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?Infinity$|^NaN$/;
const TIMESTAMP = /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$|^[+-]?infinity$/i;

/**
 * A cursor must have a value per sort key (plus type and id), each of the key's SQL type: a
 * tampered or foreign cursor is the client's error (400), not a failed SQL cast (500).
 */
function checkCursorValues(token: string, cursor: Cursor, sort: SortKey[]): void {
  const refuse = () => errors.invalidSearchValue('_cursor', token, 'does not belong to this search; follow the links of the Bundle');
  if (cursor.values.length !== sort.length + 2) throw refuse();
  if (cursor.values[sort.length] === null || cursor.values[sort.length + 1] === null) throw refuse();
  sort.forEach((key, i) => {
    const value = cursor.values[i];
    if (value === null || key.sqlType === 'text') return;
    if (!(key.sqlType === 'numeric' ? NUMERIC : TIMESTAMP).test(value)) throw refuse();
  });
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
    // The comparison that puts a row past the cursor in the direction of travel: `>` on an
    // ascending key going forward or a descending one going back, `<` otherwise.
    const past = sort[i].descending === backwards ? '>' : '<';
    const beyond =
      value === null
        ? backwards ? fragment(`${column} IS NOT NULL`) : fragment('FALSE')
        : backwards
          ? fragment(`${column} ${past} ${cast}`, value) // nulls come after every value: never before the cursor
          : fragment(`(${column} ${past} ${cast} OR ${column} IS NULL)`, value);
    const equal = value === null ? fragment(`${column} IS NULL`) : fragment(`${column} = ${cast}`, value);
    condition = or([beyond, and([equal, condition])]);
  }
  return condition;
}

/**
 * A search's statement: prepared on the pool, planned afresh inside a transaction. Searches in a
 * transaction (conditional writes, the double-booking check) run while it holds locks, where a
 * generic plan's misestimate costs every writer queued behind it (the double-booking check ran in
 * 9.5 ms on its generic plan, 3.7 ms plus 3.6 ms of planning on a fresh one).
 */
function searchQuery<R extends pg.QueryResultRow>(db: Queryable, sql: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  return db instanceof Database ? db.queryPrepared<R>(sql, values) : db.query<R>(sql, values);
}
