import { describe, expect, it } from 'vitest';
import { describeScope } from '../../src/smart-auth/oauth/pages.js';

describe('the consent page’s words for a scope', () => {
  it('says whose records a patient scope reaches: the patient’s, or for shared types every record’s', () => {
    expect(describeScope('patient/Observation.rs')).toBe('Read and search Observation records of the selected patient');
    expect(describeScope('patient/Practitioner.rs')).toBe('Read and search Practitioner records (shared by every patient’s record)');
    expect(describeScope('patient/*.read')).toBe('Read and search all kinds of records of the selected patient, and the shared ones (practitioners, organizations, medications…)');
    expect(describeScope('user/Patient.cruds')).toBe('Create, read, update, delete and search Patient records that you may see');
  });
});
