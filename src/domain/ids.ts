// Identifier formats of api.md.
import { ObjectId } from 'mongodb';

/** model_id and rebalance_id: a MongoDB ObjectId as 24 lowercase hex characters. */
export const OBJECT_ID_PATTERN = /^[0-9a-f]{24}$/;

/** portfolio_id and security_id: 24 letters or digits (not required to be hex). */
export const EXTERNAL_ID_PATTERN = /^[A-Za-z0-9]{24}$/;

export function toObjectId(id: string): ObjectId {
  return ObjectId.createFromHexString(id);
}

/** Orders anything with a security id by it (answers and stored positions are in this order). */
const bySecurityId = (a: { readonly securityId: string }, b: { readonly securityId: string }) =>
  a.securityId < b.securityId ? -1 : a.securityId > b.securityId ? 1 : 0;

/**
 * The items in security-id order: the same array when its ids ascend strictly already (as they usually come,
 * and then no id is there twice), else a sorted copy.
 */
export function sortedById<T extends { readonly securityId: string }>(items: readonly T[]): readonly T[] {
  for (let i = 1; i < items.length; i++) if (items[i - 1]!.securityId >= items[i]!.securityId) return [...items].sort(bySecurityId);
  return items;
}
