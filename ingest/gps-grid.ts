/**
 * Location on a grid (art. 5(1)(c), art. 25(1)): a GPS position is replaced by
 * the centre of the grid cell it falls in, so every device in one cell looks
 * the same and a position says no more than "somewhere in this cell".
 *
 * Cells are at least `sizeM` metres in both directions, everywhere on Earth:
 * - rows: the latitude step is `sizeM / 110 574` degrees (110 574 m is the
 *   shortest degree of latitude, at the equator, on WGS 84), widened so a
 *   whole number of rows spans −90…90;
 * - columns: each row has its own longitude step, `sizeM / (111 320 ·
 *   cos φ)` degrees with φ the row's edge nearest the pole (where a degree
 *   of longitude is shortest; 111 320 m · cos φ never exceeds a WGS 84 degree
 *   of longitude), widened so a whole number of equal cells spans −180…180.
 *   A row that touches a pole is one cell.
 * So cells in a row are equal, and rows nearer the poles have fewer, wider
 * (in degrees) cells: roughly equal in area, never smaller than stated.
 */

/** Metres in the shortest degree of latitude (WGS 84, at the equator). */
export const METRES_PER_DEGREE_LAT = 110_574;
/** Metres in a degree of longitude at the equator (WGS 84); times cos φ elsewhere, at most. */
export const METRES_PER_DEGREE_LON = 111_320;
/** The smallest cell a contract may ask for: about a block, never one house. */
export const MIN_GRID_METRES = 100;
/** The largest: a region. */
export const MAX_GRID_METRES = 500_000;
/** The cell size a contract that keeps GPS gets when it names none (the CLI's `--gps`). */
export const DEFAULT_GRID_METRES = 1_000;

export interface GridCell {
  /** Row (from the south pole) and column (from −180°) of the cell. */
  row: number;
  col: number;
  south: number;
  north: number;
  west: number;
  east: number;
  /** The position stored for every point in the cell. */
  centre: { lat: number; lon: number };
}

const rad = (deg: number) => (deg * Math.PI) / 180;

function rowsFor(sizeM: number): number {
  return Math.max(1, Math.floor(180 / (sizeM / METRES_PER_DEGREE_LAT)));
}

function colsFor(sizeM: number, south: number, north: number): number {
  const poleward = Math.max(Math.abs(south), Math.abs(north));
  const cos = Math.cos(rad(poleward));
  // A row that reaches a pole (cos 0, or rounding just above it) is one cell.
  if (poleward >= 90 || cos <= 1e-12) return 1;
  return Math.max(1, Math.floor(360 / (sizeM / (METRES_PER_DEGREE_LON * cos))));
}

/**
 * Which of `count` bands of width `step` from `origin` holds `value`; the
 * division's rounding is corrected so the band's edges, computed the same
 * way, always hold the value.
 */
function band(value: number, origin: number, step: number, count: number): number {
  let i = Math.min(count - 1, Math.max(0, Math.floor((value - origin) / step)));
  if (i > 0 && value < origin + i * step) i--;
  else if (i < count - 1 && value >= origin + (i + 1) * step) i++;
  return i;
}

/** The grid cell of size `sizeM` (metres) that holds the position. */
export function gridCell(lat: number, lon: number, sizeM: number): GridCell {
  const rows = rowsFor(sizeM);
  const dLat = 180 / rows;
  const row = band(lat, -90, dLat, rows);
  const south = -90 + row * dLat;
  const north = row === rows - 1 ? 90 : -90 + (row + 1) * dLat;
  const cols = colsFor(sizeM, south, north);
  const dLon = 360 / cols;
  // 180° is −180°: the same meridian, the first column. Anything short of it,
  // however little, is in the last column (a band of cols + 1 would round
  // 179.99999999999994 over into the wrap).
  const col = lon >= 180 ? 0 : band(lon, -180, dLon, cols);
  const west = -180 + col * dLon;
  const east = col === cols - 1 ? 180 : -180 + (col + 1) * dLon;
  return { row, col, south, north, west, east, centre: { lat: (south + north) / 2, lon: (west + east) / 2 } };
}

/** The centre of the position's grid cell: what ingest stores. */
export function snapToGrid(lat: number, lon: number, sizeM: number): { lat: number; lon: number } {
  return gridCell(lat, lon, sizeM).centre;
}
