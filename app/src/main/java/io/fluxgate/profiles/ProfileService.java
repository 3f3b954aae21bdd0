package io.fluxgate.profiles;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import com.mongodb.MongoException;
import io.fluxgate.security.Caller;
import io.fluxgate.security.PasswordHasher;
import io.fluxgate.web.ApiException;
import org.bson.types.ObjectId;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import org.springframework.dao.DuplicateKeyException;
import org.springframework.data.mongodb.ReactiveMongoTransactionManager;
import org.springframework.data.mongodb.core.BulkOperations;
import org.springframework.data.mongodb.core.geo.GeoJsonPoint;
import org.springframework.data.mongodb.core.query.Query;
import org.springframework.data.mongodb.core.query.Update;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.transaction.reactive.TransactionalOperator;

import static org.springframework.data.mongodb.core.query.Criteria.where;

/** The rules around profiles: defaults, hashing, uniqueness, and what needs which server feature. */
@Service
class ProfileService {

    static final Duration ACTIVE_WINDOW = Duration.ofDays(30);
    private static final int TRANSACTION_ATTEMPTS = 3;

    private final ProfileRepository profiles;
    private final ProfileIndexes indexes;
    private final PasswordHasher passwords;
    private final TransactionalOperator mongoTransactions;

    ProfileService(ProfileRepository profiles, ProfileIndexes indexes, PasswordHasher passwords,
            ReactiveMongoTransactionManager mongoTransactionManager) {
        this.profiles = profiles;
        this.indexes = indexes;
        this.passwords = passwords;
        this.mongoTransactions = TransactionalOperator.create(mongoTransactionManager);
    }

    Mono<ProfileView> create(Caller caller, ProfileRequests.Create request) {
        return newProfile(caller, request)
                .flatMap(profiles::insert)
                .map(ProfileView::of)
                .onErrorMap(DuplicateKeyException.class, e -> ApiException.conflict("Email already registered"));
    }

    /** The document to store for a create request: owned by the caller, defaults filled in, password hashed. */
    private Mono<Profile> newProfile(Caller owner, ProfileRequests.Create request) {
        return passwords.hashForData(request.password()).map(hash -> newProfile(owner, request, hash));
    }

    private static Profile newProfile(Caller owner, ProfileRequests.Create request, String passwordHash) {
        // MongoDB keeps milliseconds: the response shows what a later read will.
        Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        return new Profile(null, owner.id(), request.name(), request.email(), passwordHash,
                details(request.profile()), preferences(request.preferences()), "active", now,
                point(request.location()), 0, 0, now, now);
    }

    Mono<ProfileView> get(String id) {
        return profiles.findById(checkedId(id)).map(ProfileView::of)
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("Profile not found")));
    }

    Mono<ProfileView> update(Caller caller, String id, ProfileRequests.Patch patch) {
        String checked = checkedId(id);
        if (patch.isEmpty()) {
            return Mono.error(ApiException.badRequest("Send at least one field to change"));
        }
        // Ownership first: nobody gets a password hashed for a profile that is not theirs.
        return mayModify(caller, checked)
                .then(Mono.defer(() -> patch.password() == null ? Mono.just(new Update())
                        : passwords.hashForData(patch.password()).map(hash -> new Update().set("password", hash))))
                .map(u -> applyPatch(u, patch))
                .flatMap(u -> profiles.update(checked, u))
                .map(ProfileView::of)
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("Profile not found")));
    }

    /**
     * Completes when the caller may change or delete the profile: its owner or an admin. A missing
     * profile is a 404, anyone else's a 403. The owner never changes, so checking first is safe.
     */
    private Mono<Void> mayModify(Caller caller, String id) {
        return profiles.ownerOf(id)
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("Profile not found")))
                .flatMap(owner -> caller.admin() || owner.filter(ownerId -> ownerId == caller.id()).isPresent()
                        ? Mono.<Void>empty()
                        : Mono.error(ApiException.forbidden("Only the profile's owner or an admin may change it")));
    }

    /** $set for each field present; saving counts as activity, as in the seed. */
    private static Update applyPatch(Update update, ProfileRequests.Patch patch) {
        if (patch.name() != null) {
            update.set("name", patch.name());
        }
        if (patch.status() != null) {
            update.set("status", patch.status());
        }
        if (patch.location() != null) {
            update.set("location", point(patch.location()));
        }
        ProfileRequests.Details details = patch.profile();
        if (details != null) {
            if (details.avatar() != null) {
                update.set("profile.avatar", details.avatar().isEmpty() ? null : details.avatar());
            }
            if (details.bio() != null) {
                update.set("profile.bio", details.bio().isEmpty() ? null : details.bio());
            }
            if (details.socialLinks() != null) {
                update.set("profile.socialLinks", links(details.socialLinks()));
            }
        }
        ProfileRequests.Preferences preferences = patch.preferences();
        if (preferences != null) {
            if (preferences.theme() != null) {
                update.set("preferences.theme", preferences.theme());
            }
            if (preferences.notifications() != null) {
                if (preferences.notifications().email() != null) {
                    update.set("preferences.notifications.email", preferences.notifications().email());
                }
                if (preferences.notifications().push() != null) {
                    update.set("preferences.notifications.push", preferences.notifications().push());
                }
            }
        }
        return update.set("lastActive", Instant.now());
    }

    Mono<Void> delete(Caller caller, String id) {
        String checked = checkedId(id);
        return mayModify(caller, checked)
                .then(profiles.delete(checked))
                .flatMap(deleted -> deleted == 0 ? Mono.error(ApiException.notFound("Profile not found")) : Mono.empty());
    }

    Flux<ProfileView> pageAfter(ObjectId after, String status, int limit) {
        return profiles.pageAfter(after, status, limit).map(ProfileView::of);
    }

    Flux<ProfileView> search(String q, int skip, int limit) {
        Flux<Profile> found = indexes.hasTextSearch() ? profiles.searchText(q, skip, limit)
                : profiles.searchPattern(q, skip, limit);
        return found.map(ProfileView::of);
    }

    Flux<ProfileView> near(double lng, double lat, double maxDistance, int limit) {
        if (!indexes.hasGeo()) {
            return Flux.error(new ApiException(HttpStatus.NOT_IMPLEMENTED,
                    "Geo queries need a MongoDB server with 2dsphere indexes"));
        }
        return profiles.near(lng, lat, maxDistance, limit).map(ProfileView::of);
    }

    Flux<ProfileView> active(int limit) {
        return profiles.activeSince(Instant.now().minus(ACTIVE_WINDOW), limit).map(ProfileView::of);
    }

    Flux<ProfileRepository.StatusStats> stats() {
        return profiles.stats(Instant.now());
    }

    Flux<ProfileRepository.Ranked> top(int limit) {
        return profiles.top(limit);
    }

    /**
     * Unordered bulk write: every operation is tried; the counts say what happened. Every password
     * the operations carry is hashed first, on the data lane, reserved as one lot (or 503).
     */
    Mono<Map<String, Integer>> bulk(Caller caller, List<ProfileRequests.BulkOperation> operations) {
        List<String> toHash = operations.stream().map(ProfileService::passwordOf).filter(Objects::nonNull).toList();
        return passwords.hashAll(toHash)
                .flatMap(hashes -> {
                    Iterator<String> hash = hashes.iterator();
                    var bulk = profiles.template().bulkOps(BulkOperations.BulkMode.UNORDERED, Profile.class);
                    for (ProfileRequests.BulkOperation operation : operations) {
                        switch (operation.op()) {
                            case "insert" -> bulk.insert(newProfile(caller, operation.profile(), hash.next()));
                            case "update" -> {
                                Update update = operation.set().password() == null ? new Update()
                                        : new Update().set("password", hash.next());
                                bulk.updateOne(idQuery(operation.id()),
                                        applyPatch(update, operation.set()).set("updatedAt", Instant.now()));
                            }
                            default -> bulk.remove(idQuery(operation.id()));
                        }
                    }
                    return bulk.execute();
                })
                .map(result -> Map.of(
                        "insertedCount", result.getInsertedCount(),
                        "matchedCount", result.getMatchedCount(),
                        "modifiedCount", result.getModifiedCount(),
                        "deletedCount", result.getDeletedCount(),
                        "upsertedCount", result.getUpserts().size()))
                .onErrorMap(DuplicateKeyException.class, e -> ApiException.conflict("Email already registered"));
    }

    private static String passwordOf(ProfileRequests.BulkOperation operation) {
        return switch (operation.op()) {
            case "insert" -> operation.profile().password();
            case "update" -> operation.set().password();
            default -> null;
        };
    }

    private static Query idQuery(String id) {
        return Query.query(where("_id").is(new ObjectId(id)));
    }

    /**
     * The profile and its account document in one multi-document transaction: both or neither.
     * Transient transaction errors (write conflicts, elections) are retried a few times.
     */
    Mono<Map<String, Object>> createWithAccount(Caller caller, ProfileRequests.WithAccount request) {
        return newProfile(caller, request.profile())
                .flatMap(profile -> profiles.insert(profile)
                        .flatMap(saved -> profiles.template()
                                .insert(new ProfileAccount(null, saved.id(), request.account().plan(), Instant.now()))
                                .map(account -> Map.<String, Object>of("profile", ProfileView.of(saved),
                                        "account", account)))
                        .as(mongoTransactions::transactional))
                .retryWhen(Retry.max(TRANSACTION_ATTEMPTS - 1).filter(ProfileService::isTransient))
                .onErrorMap(DuplicateKeyException.class, e -> ApiException.conflict("Email already registered"))
                .onErrorMap(ProfileService::isTransactionsUnsupported, e -> new ApiException(HttpStatus.NOT_IMPLEMENTED,
                        "Multi-document transactions need a MongoDB replica set"));
    }

    private static boolean isTransient(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof MongoException mongo && mongo.hasErrorLabel(MongoException.TRANSIENT_TRANSACTION_ERROR_LABEL)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isTransactionsUnsupported(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            // Standalone servers and servers without sessions say so in these words.
            if (message.contains("Transaction numbers are only allowed") || message.contains("support sessions")
                    || message.contains("does not support transactions")) {
                return true;
            }
        }
        return false;
    }

    /** A 400, not a 500, for ids that are not ObjectIds. */
    static String checkedId(String id) {
        if (!ObjectId.isValid(id)) {
            throw ApiException.invalid("id", "Malformed id");
        }
        return id;
    }

    private static Profile.Details details(ProfileRequests.Details details) {
        if (details == null) {
            return new Profile.Details(null, null, List.of());
        }
        return new Profile.Details(emptyToNull(details.avatar()), emptyToNull(details.bio()),
                links(details.socialLinks()));
    }

    private static List<Profile.SocialLink> links(List<ProfileRequests.SocialLink> links) {
        List<Profile.SocialLink> stored = new ArrayList<>();
        if (links != null) {
            links.forEach(link -> stored.add(new Profile.SocialLink(link.platform(), link.url())));
        }
        return stored;
    }

    /** Defaults of the seed: notifications on, theme auto. */
    private static Profile.Preferences preferences(ProfileRequests.Preferences preferences) {
        boolean email = true;
        boolean push = true;
        String theme = "auto";
        if (preferences != null) {
            if (preferences.notifications() != null) {
                email = preferences.notifications().email() == null || preferences.notifications().email();
                push = preferences.notifications().push() == null || preferences.notifications().push();
            }
            if (preferences.theme() != null) {
                theme = preferences.theme();
            }
        }
        return new Profile.Preferences(new Profile.Notifications(email, push), theme);
    }

    private static GeoJsonPoint point(ProfileRequests.Location location) {
        return location == null ? null : new GeoJsonPoint(location.lng(), location.lat());
    }

    private static String emptyToNull(String value) {
        return value == null || value.isEmpty() ? null : value;
    }
}
