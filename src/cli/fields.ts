import { z } from 'zod';
import { PayoutOrder } from '../payouts/schemas.js';

/**
 * CSV columns are the API's field paths (`amount_details.amount`, `recipient.full_name`, …), read
 * off the service's own schema, so a column the API does not know is refused by name. A column that
 * names an object or a list (`customer.contacts`) holds it as JSON; list items can also be spread
 * over columns (`customer.contacts.0.email`).
 */
type Shape = { kind: 'string' | 'number' } | { kind: 'object'; fields: Map<string, Shape> } | { kind: 'array'; element: Shape };

function shapeOf(schema: z.ZodType): Shape {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault)
    return shapeOf(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodObject) {
    return { kind: 'object', fields: new Map(Object.entries(schema.shape).map(([k, v]) => [k, shapeOf(v as z.ZodType)])) };
  }
  if (schema instanceof z.ZodArray) return { kind: 'array', element: shapeOf(schema.element as z.ZodType) };
  if (schema instanceof z.ZodNumber) return { kind: 'number' };
  return { kind: 'string' };
}

const ORDER_SHAPE = shapeOf(PayoutOrder);

/** Every plain column name, for help texts (list items shown with `0`). */
export function knownColumns(shape: Shape = ORDER_SHAPE, prefix = ''): string[] {
  if (shape.kind === 'object') return [...shape.fields].flatMap(([k, v]) => knownColumns(v, prefix ? `${prefix}.${k}` : k));
  if (shape.kind === 'array') return knownColumns(shape.element, `${prefix}.0`);
  return [prefix];
}

/** How one column fills an order: where, and how its text becomes a value. */
export interface Column {
  name: string;
  /** Path segments; a number indexes a list. */
  path: Array<string | number>;
  /** `number`: a number (amounts); `json`: an object or list as JSON; `string`: as written. */
  read: 'string' | 'number' | 'json';
}

/** Columns for a header row, or the problems with it (unknown, repeated, unnamed, overlapping). */
export function planColumns(header: string[]): { columns: Column[] } | { problems: string[] } {
  const problems: string[] = [];
  const columns: Column[] = [];
  header.forEach((raw, i) => {
    const name = raw.trim();
    if (!name) return problems.push(`column ${i + 1} has no name`);
    let shape: Shape = ORDER_SHAPE;
    const path: Array<string | number> = [];
    for (const segment of name.split('.')) {
      let next: Shape | undefined;
      if (shape.kind === 'object') next = shape.fields.get(segment);
      else if (shape.kind === 'array' && /^\d{1,3}$/.test(segment)) next = shape.element;
      if (!next) {
        const known = knownColumns().join(', ');
        return problems.push(`column "${name}" is not a payout field (columns are the API's field paths: ${known})`);
      }
      path.push(shape.kind === 'array' ? Number(segment) : segment);
      shape = next;
    }
    const read = shape.kind === 'number' ? 'number' : shape.kind === 'string' ? 'string' : 'json';
    columns.push({ name, path, read });
  });
  const names = columns.map((c) => c.name);
  for (const c of columns) {
    if (names.indexOf(c.name) !== names.lastIndexOf(c.name)) {
      if (names.indexOf(c.name) === columns.indexOf(c)) problems.push(`column "${c.name}" appears more than once`);
      continue;
    }
    const inside = names.find((n) => n !== c.name && c.name.startsWith(`${n}.`));
    if (inside) problems.push(`column "${c.name}" is also given by column "${inside}"`);
  }
  return problems.length ? { problems } : { columns };
}

/** A number as written (`10000`, `100.5`); anything else stays text, for the schema to name. */
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * One CSV record as an order: empty cells are absent fields. Problems are what cannot even be
 * turned into a value (JSON that does not parse); the schema judges the rest.
 */
export function orderOf(
  columns: Column[],
  cells: string[],
): { value: Record<string, unknown>; problems: Array<{ field: string; problem: string }> } {
  const value: Record<string, unknown> = {};
  const problems: Array<{ field: string; problem: string }> = [];
  columns.forEach((column, i) => {
    const cell = cells[i];
    if (cell === undefined || cell.trim() === '') return;
    let v: unknown = cell;
    if (column.read === 'number' && NUMBER.test(cell.trim())) v = Number(cell.trim());
    if (column.read === 'json') {
      try {
        v = JSON.parse(cell);
      } catch {
        return problems.push({ field: column.name, problem: 'must be JSON (this column holds an object or a list)' });
      }
    }
    setAt(value, column.path, v);
  });
  return { value, problems };
}

function setAt(target: Record<string, unknown> | unknown[], path: Array<string | number>, v: unknown): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  const slot = target as Record<string | number, unknown>;
  if (rest.length === 0) {
    slot[head] = v;
    return;
  }
  if (typeof slot[head] !== 'object' || slot[head] === null) slot[head] = typeof rest[0] === 'number' ? [] : {};
  setAt(slot[head] as Record<string, unknown>, rest, v);
}
