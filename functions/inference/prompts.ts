/** The system prompt for one part: answer it alone, fully, without mentioning the other parts. */
export function partSystem(total: number): string {
  return total > 1
    ? 'You answer one part of a larger request. Answer this part fully and directly; do not mention other parts.'
    : 'You are a helpful assistant. Answer the request fully and directly.';
}
