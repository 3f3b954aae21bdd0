package io.fluxgate.users;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.fluxgate.security.AbuseThrottle;
import io.fluxgate.security.Caller;
import io.fluxgate.security.PasswordHasher;
import io.fluxgate.security.TokenRevocation;
import io.fluxgate.security.TokenService;
import io.fluxgate.web.ApiException;
import io.fluxgate.web.Constraints;
import io.fluxgate.web.FieldViolation;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.dao.DuplicateKeyException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;

/** The rules around users: who may change what, uniqueness, login, and all-or-nothing imports. */
@Service
public class UserService {

    static final List<String> STATUSES = List.of("active", "inactive", "suspended");
    static final Duration ACTIVE_WINDOW = Duration.ofDays(30);
    /** Stands in for an unknown email: no hash, so the password check runs the decoy and fails. */
    private static final UserRepository.Credentials UNKNOWN =
            new UserRepository.Credentials(0, null, null, List.of(), 0);

    private final UserRepository users;
    private final PasswordHasher passwords;
    private final TokenService tokens;
    private final TransactionalOperator transactions;
    private final UserCache cache;
    private final TokenRevocation revocation;
    private final AbuseThrottle throttle;

    UserService(UserRepository users, PasswordHasher passwords, TokenService tokens,
            ReactiveTransactionManager transactionManager, UserCache cache, TokenRevocation revocation,
            AbuseThrottle throttle) {
        this.users = users;
        this.throttle = throttle;
        this.cache = cache;
        this.revocation = revocation;
        this.passwords = passwords;
        this.tokens = tokens;
        this.transactions = TransactionalOperator.create(transactionManager);
    }

    /** Registrations per client address are limited before any hashing (see {@link AbuseThrottle}). */
    Mono<User> register(UserRequests.Register request, InetSocketAddress client) {
        return throttle.registration(client)
                .then(Mono.defer(() -> passwords.hash(request.password())))
                .flatMap(hash -> users.insert(request.name(), request.email(), hash))
                .onErrorMap(DuplicateKeyException.class, e -> emailTaken("email"));
    }

    /** Records that users were active (from the write-behind queue), in one statement. */
    Mono<Long> recordActivity(Map<Long, Instant> lastSeen) {
        return users.recordActivity(lastSeen.keySet().toArray(Long[]::new), lastSeen.values().toArray(Instant[]::new));
    }

    /**
     * The same 401 whether the email is unknown or the password wrong, and about the same time. The
     * token carries the roles and token version the database holds now. Attempts per email and per
     * client address are limited (429) before the password is checked.
     */
    Mono<LoginResult> login(UserRequests.Login request, InetSocketAddress client) {
        return throttle.loginAttempt(request.email(), client)
                .then(Mono.defer(() -> users.findCredentials(request.email())))
                .defaultIfEmpty(UNKNOWN)
                .flatMap(credentials -> passwords.matches(request.password(), credentials.passwordHash())
                        .filter(Boolean::booleanValue)
                        .switchIfEmpty(Mono.error(() -> ApiException.unauthorized("Invalid credentials")))
                        .then(Mono.defer(() -> "suspended".equals(credentials.status())
                                ? Mono.error(ApiException.forbidden("This account is suspended"))
                                : users.touchLastActive(credentials.id())))
                        // Deleted between the two reads: as if it never existed.
                        .switchIfEmpty(Mono.error(() -> ApiException.unauthorized("Invalid credentials")))
                        .map(user -> new LoginResult(tokens.issue(user.id(), user.roles(), credentials.tokenVersion()),
                                user)))
                .flatMap(result -> throttle.loginSucceeded(request.email(), client).thenReturn(result));
    }

    record LoginResult(TokenService.IssuedToken token, User user) {
    }

    Mono<User> get(long id) {
        return cache.byId(id, users.findById(id))
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("User not found")));
    }

    Mono<User> getByEmail(String email) {
        String normalized = Constraints.normalizeEmail(email);
        return cache.byEmail(normalized, users.findByEmail(normalized))
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("User not found")));
    }

    Mono<OffsetPage> list(String orderBy, boolean descending, int limit, int offset) {
        return Mono.zip(users.list(orderBy, descending, limit, offset).collectList(), users.count())
                .map(result -> new OffsetPage(result.getT1(), limit, offset, result.getT2()));
    }

    record OffsetPage(List<User> data, int limit, int offset, long total) {
    }

    Flux<User> pageAfter(long afterId, int limit) {
        return users.pageAfter(afterId, limit);
    }

    Flux<User> active(int limit) {
        return users.activeSince(Instant.now().minus(ACTIVE_WINDOW), limit);
    }

    /** Every status appears, with zeros when no user has it. */
    Mono<Map<String, UserRepository.StatusStats>> stats() {
        return users.statsByStatus().map(found -> {
            Map<String, UserRepository.StatusStats> all = new LinkedHashMap<>();
            STATUSES.forEach(status -> all.put(status, found.getOrDefault(status, new UserRepository.StatusStats(0, 0))));
            return all;
        });
    }

    Mono<User> update(Caller caller, long id, UserRequests.Patch patch) {
        if (!caller.mayModify(id)) {
            return Mono.error(ApiException.forbidden("You may only change your own profile"));
        }
        if (patch.status() != null && !caller.admin()) {
            return Mono.error(ApiException.forbidden("Only admins may change a user's status"));
        }
        if (patch.isEmpty()) {
            return Mono.error(ApiException.badRequest("Send at least one of name, avatar, bio or status"));
        }
        // The old email's key goes too when the email changes, so a lookup by it cannot find the user.
        Mono<String> oldEmail = patch.email() == null ? Mono.just("")
                : users.findById(id).map(User::email).defaultIfEmpty("");
        return oldEmail.flatMap(previous -> users.update(id, patch)
                        .doOnNext(user -> revocation.forget(id))
                        .flatMap(user -> cache.evict(id, user.email(), previous).thenReturn(user)))
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("User not found")))
                .onErrorMap(DuplicateKeyException.class, e -> emailTaken("email"));
    }

    Mono<Void> delete(Caller caller, long id) {
        if (!caller.mayModify(id)) {
            return Mono.error(ApiException.forbidden("You may only delete your own account"));
        }
        return users.delete(id)
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("User not found")))
                .doOnNext(email -> revocation.forget(id))
                .flatMap(email -> cache.evict(id, email));
    }

    /**
     * Sets a user's roles (USER is always kept). Only admins may, and an admin cannot take its own
     * ADMIN role away, so the last admin cannot lock everyone out by accident. Taking a role away
     * revokes the user's tokens (the database bumps its token version).
     */
    Mono<User> setRoles(Caller caller, long id, List<String> requested) {
        if (!caller.admin()) {
            return Mono.error(ApiException.forbidden("Only admins may change roles"));
        }
        List<String> roles = TokenService.ROLES.stream()
                .filter(role -> role.equals(TokenService.USER) || requested.contains(role))
                .toList();
        if (caller.id() == id && !roles.contains(TokenService.ADMIN)) {
            return Mono.error(ApiException.conflict("An admin cannot remove its own ADMIN role"));
        }
        return users.setRoles(id, roles)
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("User not found")))
                .doOnNext(user -> revocation.forget(id))
                .flatMap(user -> cache.evict(id, user.email()).thenReturn(user));
    }

    /**
     * Imports valid rows in one multi-row INSERT inside one transaction. Emails repeated in the batch
     * or already registered are reported by index and nothing is inserted.
     */
    Mono<Long> importAll(List<UserRequests.Register> rows) {
        List<FieldViolation> duplicates = duplicatesWithinBatch(rows);
        if (!duplicates.isEmpty()) {
            return Mono.error(ApiException.invalid(duplicates));
        }
        List<String> emails = rows.stream().map(UserRequests.Register::email).toList();
        return users.existingEmails(emails).collectList()
                .flatMap(taken -> taken.isEmpty() ? Mono.empty() : Mono.error(alreadyRegistered(emails, taken)))
                .then(passwords.hashAll(rows.stream().map(UserRequests.Register::password).toList()))
                .map(hashes -> {
                    List<UserRepository.NewUser> newUsers = new ArrayList<>(rows.size());
                    for (int i = 0; i < rows.size(); i++) {
                        newUsers.add(new UserRepository.NewUser(rows.get(i).name(), rows.get(i).email(), hashes.get(i)));
                    }
                    return newUsers;
                })
                .flatMap(newUsers -> users.insertAll(newUsers).as(transactions::transactional))
                .onErrorMap(DuplicateKeyException.class, e -> emailTaken("email"));
    }

    private static List<FieldViolation> duplicatesWithinBatch(List<UserRequests.Register> rows) {
        Set<String> seen = new HashSet<>();
        List<FieldViolation> errors = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            if (!seen.add(rows.get(i).email())) {
                errors.add(new FieldViolation("[" + i + "].email", "Email appears more than once in this batch"));
            }
        }
        return errors;
    }

    private static ApiException alreadyRegistered(List<String> emails, List<String> taken) {
        List<FieldViolation> errors = new ArrayList<>();
        for (int i = 0; i < emails.size(); i++) {
            if (taken.contains(emails.get(i))) {
                errors.add(new FieldViolation("[" + i + "].email", "Email already registered"));
            }
        }
        return ApiException.conflict("Some emails are already registered", errors);
    }

    private static ApiException emailTaken(String field) {
        return ApiException.conflict("Email already registered", List.of(new FieldViolation(field, "Email already registered")));
    }
}
