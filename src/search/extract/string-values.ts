import type { TypedValue } from '@medplum/core';
import type { Address, HumanName } from '@medplum/fhirtypes';

const strings = (...values: unknown[]): string[] => values.flat().filter((v): v is string => typeof v === 'string' && v.length > 0);

/**
 * The strings a string parameter indexes (search.html#string): each part of a HumanName or an
 * Address on its own, so that a prefix of any part matches.
 */
export function stringValues(value: TypedValue): string[] {
  switch (value.type) {
    case 'HumanName': {
      const name = value.value as HumanName;
      return strings(name.text, name.family, name.given ?? [], name.prefix ?? [], name.suffix ?? []);
    }
    case 'Address': {
      const address = value.value as Address;
      return strings(address.text, address.line ?? [], address.city, address.district, address.state, address.postalCode, address.country);
    }
    default:
      return strings(value.value);
  }
}
