export * from './schemas.ts';
export * from './event.ts';
export * from './signature.ts';
