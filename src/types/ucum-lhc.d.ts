/** The part of @lhncbc/ucum-lhc (the UCUM library fhirpath uses) that we call; it ships no types. */
declare module '@lhncbc/ucum-lhc' {
  interface BaseUnitsResult {
    status: 'succeeded' | 'failed' | 'error';
    magnitude?: number;
    unitToExp?: Record<string, number>;
    fromUnitIsSpecial?: boolean;
  }
  interface UcumLhcUtils {
    convertToBaseUnits(unit: string, value: number): BaseUnitsResult;
  }
  const ucum: { UcumLhcUtils: { getInstance(): UcumLhcUtils } };
  export default ucum;
}
