export * from './schemas.ts';
export * from './event.ts';
