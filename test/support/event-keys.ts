import { eventKeysFrom, type EventKeys } from '../../functions/lib/events/index.ts';

/** Event keys for tests: `current` signs; `previous` is the key before a rotation; `stranger` is nobody's. */
export const TEST_EVENT_KEY = 'test-event-key-0123456789abcdef0123456789';
export const PREVIOUS_EVENT_KEY = 'previous-event-key-0123456789abcdef012345';
const STRANGER_EVENT_KEY = 'stranger-event-key-0123456789abcdef01234';

const keys = (...list: string[]): EventKeys => eventKeysFrom(list)!;

/** What the processes under test are given (AIPROC_EVENT_KEYS). */
export const testEventKeys = keys(TEST_EVENT_KEY);
export const previousEventKeys = keys(PREVIOUS_EVENT_KEY);
export const strangerEventKeys = keys(STRANGER_EVENT_KEY);
