package io.fluxgate.profiles;

import java.time.Instant;

import org.springframework.data.annotation.Id;
import org.springframework.data.mongodb.core.mapping.Document;

/** The detail document created with a profile in one transaction ({@code POST /api/profiles/with-account}). */
@Document("profile_accounts")
record ProfileAccount(@Id String id, String profileId, String plan, Instant createdAt) {
}
