import type { OperationDefinition, OperationDefinitionParameter, ResourceType } from '@medplum/fhirtypes';

type ParameterType = NonNullable<OperationDefinitionParameter['type']>;

const input = (name: string, type: ParameterType | undefined, min: number, max: string, documentation: string, part?: OperationDefinitionParameter[]): OperationDefinitionParameter => ({
  name,
  use: 'in',
  min,
  max,
  ...(type ? { type } : {}),
  documentation,
  ...(part ? { part } : {}),
});

const output = (name: string, type: ParameterType, min: number, max: string, documentation: string): OperationDefinitionParameter => ({
  name,
  use: 'out',
  min,
  max,
  type,
  documentation,
});

/** `Schedule/[id]/$generate-slots`: our own operation, described by the OperationDefinition this server serves. */
export function generateSlotsDefinition(baseUrl: string): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: 'generate-slots',
    url: `${baseUrl}/OperationDefinition/generate-slots`,
    name: 'GenerateSlots',
    title: 'Publish a schedule\'s availability as Slots',
    status: 'active',
    kind: 'operation',
    code: 'generate-slots',
    resource: ['Schedule' as ResourceType],
    system: false,
    type: false,
    instance: true,
    affectsState: true,
    description:
      'Creates free Slots of the schedule for every day from start to end (inclusive) from a weekly availability: the ' +
      'availableTime parameters, or else the availableTime and notAvailable of the PractitionerRole that is an actor of the ' +
      'Schedule. Each available window (wall-clock times in timezone) is cut into slots of slot-minutes; a remainder shorter ' +
      'than that is left out; slots touching a notAvailable period are left out. Idempotent: a slot overlapping one the ' +
      'schedule already has, in any status, is not created again, so running it twice creates nothing the second time. ' +
      'Only the schedule\'s owner (the user whose fhirUser is its actor) or an admin may run it.',
    parameter: [
      input('start', 'date', 1, '1', 'The first day to make slots for'),
      input('end', 'date', 1, '1', 'The last day to make slots for (inclusive); at most 366 days after start'),
      input('slot-minutes', 'positiveInt', 1, '1', 'The length of each slot in minutes (1 to 1440)'),
      input('timezone', 'string', 0, '1', 'The IANA time zone the available times are wall-clock times of (default UTC)'),
      input('overbooked', 'boolean', 0, '1', 'When true, the slots are overbookable (Slot.overbooked): they may take more than one appointment'),
      input('availableTime', undefined, 0, '*', 'A weekly available time, as PractitionerRole.availableTime', [
        input('daysOfWeek', 'code', 1, '*', 'mon | tue | wed | thu | fri | sat | sun'),
        input('allDay', 'boolean', 0, '1', 'Available all day'),
        input('availableStartTime', 'time', 0, '1', 'Start of the available window (wall-clock time)'),
        input('availableEndTime', 'time', 0, '1', 'End of the available window; an end before the start runs past midnight'),
      ]),
      input('notAvailable', undefined, 0, '*', 'A period without availability, as PractitionerRole.notAvailable', [
        input('description', 'string', 0, '1', 'Why (holiday, training)'),
        input('during', 'Period', 1, '1', 'When'),
      ]),
      output('created', 'integer', 1, '1', 'How many slots were created'),
      output('existing', 'integer', 1, '1', 'How many planned slots were already there (or overlapped an existing slot) and were not created'),
      output('slot', 'Reference', 0, '*', 'The created slots'),
    ],
  };
}
