/** A product of the example shop. Prices are whole cents so totals never suffer from float rounding. */
export interface Product {
  id: string;
  name: string;
  priceCents: number;
  description: string;
}

/** The whole catalogue. Fixed data keeps every spec deterministic: no database, nothing to seed or reset. */
export const PRODUCTS: readonly Product[] = [
  { id: 'cinnamon-roll', name: 'Cinnamon Roll', priceCents: 350, description: 'Soft, swirled and glazed. Baked every morning.' },
  { id: 'cardamom-bun', name: 'Cardamom Bun', priceCents: 400, description: 'A Swedish knot with freshly ground cardamom.' },
  { id: 'ceylon-sticks', name: 'Ceylon Cinnamon Sticks', priceCents: 650, description: 'Twenty thin, sweet quills from Sri Lanka.' },
  { id: 'chai-blend', name: 'Chai Tea Blend', priceCents: 900, description: 'Black tea, cinnamon, ginger, clove and pepper.' },
  { id: 'apple-pie-spice', name: 'Apple Pie Spice', priceCents: 550, description: 'Cinnamon, nutmeg and allspice for autumn baking.' },
];

export function findProduct(id: string): Product | undefined {
  return PRODUCTS.find((p) => p.id === id);
}

export function formatPrice(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}
