// Placeholder entry so the stacks can reference this function; the two-way sync work replaces it.
export const handler = async (): Promise<never> => {
  throw new Error('forward-sync is not implemented yet');
};
