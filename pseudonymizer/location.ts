import { SkjoldError } from '../lib/errors.ts';

/**
 * Location, kept minimal. Art. 5(1)(c): data minimisation — the telecom seed
 * keeps only the *country* a data session was made to and from, so a serving
 * cell is reduced to its Mobile Country Code and the MCC to a country.
 *
 * MCC → ISO 3166-1 alpha-2, after ITU-T E.212 (list of MCCs). Written as one
 * compact table so it stays readable; parsed once at load. Countries with
 * several MCCs (GB, US, IN, JP, CN, AE) list each. Kosovo uses the
 * user-assigned code XK, as the EU does.
 */
const MCC_TABLE = `
  202 GR 204 NL 206 BE 208 FR 212 MC 213 AD 214 ES 216 HU 218 BA 219 HR 220 RS 221 XK 222 IT 225 VA
  226 RO 228 CH 230 CZ 231 SK 232 AT 234 GB 235 GB 238 DK 240 SE 242 NO 244 FI 246 LT 247 LV 248 EE
  250 RU 255 UA 257 BY 259 MD 260 PL 262 DE 266 GI 268 PT 270 LU 272 IE 274 IS 276 AL 278 MT 280 CY
  282 GE 283 AM 284 BG 286 TR 288 FO 290 GL 292 SM 293 SI 294 MK 295 LI 297 ME
  302 CA 308 PM 310 US 311 US 312 US 313 US 314 US 315 US 316 US 330 PR 334 MX 338 JM 340 GP 342 BB
  344 AG 346 KY 348 VG 350 BM 352 GD 354 MS 356 KN 358 LC 360 VC 362 CW 363 AW 364 BS 365 AI 366 DM
  368 CU 370 DO 372 HT 374 TT 376 TC
  400 AZ 401 KZ 402 BT 404 IN 405 IN 406 IN 410 PK 412 AF 413 LK 414 MM 415 LB 416 JO 417 SY 418 IQ
  419 KW 420 SA 421 YE 422 OM 424 AE 425 IL 426 BH 427 QA 428 MN 429 NP 430 AE 431 AE 432 IR 434 UZ
  436 TJ 437 KG 438 TM 440 JP 441 JP 450 KR 452 VN 454 HK 455 MO 456 KH 457 LA 460 CN 461 CN 466 TW
  467 KP 470 BD 472 MV
  502 MY 505 AU 510 ID 514 TL 515 PH 520 TH 525 SG 528 BN 530 NZ 536 NR 537 PG 539 TO 540 SB 541 VU
  542 FJ 544 AS 545 KI 546 NC 547 PF 548 CK 549 WS 550 FM 551 MH 552 PW
  602 EG 603 DZ 604 MA 605 TN 606 LY 607 GM 608 SN 609 MR 610 ML 611 GN 612 CI 613 BF 614 NE 615 TG
  616 BJ 617 MU 618 LR 619 SL 620 GH 621 NG 622 TD 623 CF 624 CM 625 CV 626 ST 627 GQ 628 GA 629 CG
  630 CD 631 AO 632 GW 633 SC 634 SD 635 RW 636 ET 637 SO 638 DJ 639 KE 640 TZ 641 UG 642 BI 643 MZ
  645 ZM 646 MG 647 RE 648 ZW 649 NA 650 MW 651 LS 652 BW 653 SZ 654 KM 655 ZA 657 ER 659 SS
  702 BZ 704 GT 706 SV 708 HN 710 NI 712 CR 714 PA 716 PE 722 AR 724 BR 730 CL 732 CO 734 VE 736 BO
  738 GY 740 EC 744 PY 746 SR 748 UY 750 FK
`;

const MCC_TO_COUNTRY: ReadonlyMap<number, string> = new Map(
  [...MCC_TABLE.matchAll(/(\d{3}) ([A-Z]{2})/g)].map((m) => [Number(m[1]), m[2] as string]),
);

/**
 * MCCs that are valid in an IMSI but belong to no country: 901 is the ITU's
 * shared code for international networks (global IoT SIMs often carry it).
 */
const INTERNATIONAL_MCCS: ReadonlySet<number> = new Set([901]);

function mccNumber(mcc: string | number): number | undefined {
  if (typeof mcc === 'number') return Number.isInteger(mcc) && mcc >= 0 && mcc <= 999 ? mcc : undefined;
  return /^\d{3}$/.test(mcc) ? Number(mcc) : undefined;
}

/** ISO 3166-1 alpha-2 country of a Mobile Country Code, or undefined when unknown or international. */
export function countryForMcc(mcc: string | number): string | undefined {
  const n = mccNumber(mcc);
  return n === undefined ? undefined : MCC_TO_COUNTRY.get(n);
}

/** True for an MCC that may open a real IMSI: a country's, or an international network's. */
export function isKnownMcc(mcc: string | number): boolean {
  const n = mccNumber(mcc);
  return n !== undefined && (MCC_TO_COUNTRY.has(n) || INTERNATIONAL_MCCS.has(n));
}

/**
 * Rounds a GPS position. Art. 5(1)(c): used only when a contract explicitly
 * keeps GPS, and then never finer than 3 decimals (~110 m at the equator):
 * enough for "which district", too coarse for "which house".
 */
export function coarsenGps(lat: number, lon: number, decimals: number): { lat: number; lon: number } {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 3) {
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'GPS precision must be an integer of 0 to 3 decimals');
  }
  if (!Number.isFinite(lat) || lat < -90 || lat > 90 || !Number.isFinite(lon) || lon < -180 || lon > 180) {
    // The position itself stays out of the message: it is personal data.
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'GPS position out of range');
  }
  const factor = 10 ** decimals;
  // `+ 0` turns -0 into 0 so a rounded position prints the same either side of the equator.
  const round = (v: number): number => Math.round(v * factor) / factor + 0;
  return { lat: round(lat), lon: round(lon) };
}
