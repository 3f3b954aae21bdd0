package io.fluxgate.changes;

import java.util.Set;

/** The change channels of the contract and who may see what on each. */
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
    static final Set<String> OPEN = Set.of(POSTS, PROFILES);

    private Channels() {
    }
}
