/**
 * Accounts and money transfers in PostgreSQL: each transfer is one transaction that locks both
 * accounts in a fixed order, so concurrent transfers never lose money, overdraw or deadlock.
 */
package io.fluxgate.accounts;
