package io.fluxgate.changes.hub;

import java.util.Map;
import java.util.Set;

/** The change channels of the contract, who may see what on each, and the fields their rows carry. */
public final class Channels {

    public static final String USERS = "user_changes";
    public static final String POSTS = "post_changes";
    public static final String ACCOUNTS = "account_changes";
    public static final String PROFILES = "profile_changes";

    /** Every channel a client may subscribe to. */
    public static final Set<String> ALL = Set.of(USERS, POSTS, ACCOUNTS, PROFILES);
    /** Channels the change log's triggers write (profiles come from MongoDB). */
    public static final Set<String> DATABASE = Set.of(USERS, POSTS, ACCOUNTS);
    /** Channels whose every event any authenticated user may see; on the others, non-admins see only their own. */
    public static final Set<String> OPEN = Set.of(POSTS, PROFILES);

    /** The fields of {@code data} on each channel: what filters and column lists may name. */
    private static final Map<String, Set<String>> FIELDS = Map.of(
            USERS, Set.of("id", "email", "name", "status", "roles", "avatar", "bio", "lastActive", "createdAt",
                    "updatedAt"),
            POSTS, Set.of("id", "authorId", "title", "body", "createdAt", "updatedAt"),
            // accounts and transfers
            ACCOUNTS, Set.of("id", "userId", "balance", "currency", "fromUserId", "toUserId", "amount", "type",
                    "createdAt", "updatedAt"),
            PROFILES, Set.of("id", "ownerId", "name", "email", "profile", "preferences", "status", "lastActive",
                    "location", "posts", "followers", "createdAt", "updatedAt"));

    private Channels() {
    }

    public static Set<String> fields(String channel) {
        return FIELDS.getOrDefault(channel, Set.of());
    }

    /** Whether {@code admin} or not, may the caller see every event of {@code channel}? */
    public static boolean seesAll(String channel, boolean admin) {
        return admin || OPEN.contains(channel);
    }
}
