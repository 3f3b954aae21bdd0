/**
 * Profiles in MongoDB (reactive Spring Data): validated documents, indexes, text and geo search,
 * aggregations, bulk writes, multi-document transactions, and a change stream into the hub.
 */
package io.fluxgate.profiles;
