/*
 * token.c - a fungible token contract for wasmstate, in freestanding C.
 *
 * Arguments and results are rkyv 0.7 archives of fixed-size values:
 * a contract id is its 32 bytes, a u64 is 8 bytes little-endian, () is
 * empty, and a tuple lays its fields out in order at their alignment
 * ((ContractId, u64) is 40 bytes, (ContractId, ContractId, u64) is 72).
 *
 * Exports (all (i32 arg_len) -> (i32 result_len)):
 *   init(owner: ContractId, supply: u64) -> ()   mints supply to owner
 *   balance_of(id: ContractId) -> u64
 *   total_supply(()) -> u64
 *   transfer(...) -> ()                           see below
 *
 * Who sends a transfer:
 *   - When another contract calls transfer (the caller import returns 1),
 *     the sender is that contract: the argument is (to: ContractId,
 *     amount: u64), 40 bytes.
 *   - When the host calls transfer directly (caller returns 0) there is no
 *     calling contract, so the host names the sender: the argument is
 *     (from: ContractId, to: ContractId, amount: u64), 72 bytes. The host
 *     (the embedder) is trusted to have authenticated `from`.
 *   Any other length panics, so a contract cannot pass the 72-byte form to
 *   spend someone else's balance, and a host call cannot omit the sender.
 * A transfer of more than the sender's balance panics with "insufficient
 * balance". A successful one emits the event "transfer" with data
 * (from: ContractId, to: ContractId, amount: u64), 72 bytes.
 *
 * Balances live in an open-addressing hash table in static memory: 4096
 * slots, linear probing, FNV-1a over the 32-byte id. Entries are never
 * removed (a zero balance keeps its slot); a full table panics.
 */
#include "wasmstate.h"

#define SLOTS 4096u /* a power of two */

static uint8_t keys[SLOTS][32];
static uint64_t balances[SLOTS];
static uint8_t used[SLOTS];
static uint64_t supply;

static uint32_t hash_id(const uint8_t *id) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 32; i++) {
        h ^= id[i];
        h *= 16777619u;
    }
    return h;
}

/* Slot of id, or of the empty slot where it would go; -1 if the table is
 * full and id is not in it. */
static int32_t find_slot(const uint8_t *id) {
    uint32_t i = hash_id(id) & (SLOTS - 1);
    for (uint32_t n = 0; n < SLOTS; n++, i = (i + 1) & (SLOTS - 1)) {
        if (!used[i] || ws_eq32(keys[i], id)) return (int32_t)i;
    }
    return -1;
}

static uint64_t balance_get(const uint8_t *id) {
    int32_t s = find_slot(id);
    return (s >= 0 && used[s]) ? balances[s] : 0;
}

static void balance_set(const uint8_t *id, uint64_t v) {
    int32_t s = find_slot(id);
    if (s < 0) ws_panic_str("balance table full");
    if (!used[s]) {
        if (v == 0) return; /* no slot needed for a zero balance */
        used[s] = 1;
        ws_memcpy(keys[s], id, 32);
    }
    balances[s] = v;
}

static uint32_t ret_u64(uint64_t v) {
    ws_put_u64(A_buf, v);
    return 8;
}

WS_EXPORT(init) {
    if (arg_len != 40) ws_panic_str("init: want (owner: ContractId, supply: u64), 40 bytes");
    uint8_t owner[32];
    ws_memcpy(owner, A_buf, 32);
    supply = ws_get_u64(A_buf + 32);
    balance_set(owner, supply);
    return 0;
}

WS_EXPORT(balance_of) {
    if (arg_len != 32) ws_panic_str("balance_of: want a 32-byte ContractId");
    uint8_t id[32];
    ws_memcpy(id, A_buf, 32);
    return ret_u64(balance_get(id));
}

WS_EXPORT(total_supply) {
    if (arg_len != 0) ws_panic_str("total_supply: want ()");
    return ret_u64(supply);
}

WS_EXPORT(transfer) {
    /* Copy the argument out first: caller() overwrites A_buf[0..32]. */
    uint8_t arg[72];
    if (arg_len != 40 && arg_len != 72) ws_panic_str("transfer: bad argument length");
    ws_memcpy(arg, A_buf, arg_len);

    uint8_t from[32], to[32];
    uint64_t amount;
    if (ws_caller()) {
        if (arg_len != 40) ws_panic_str("transfer: a contract passes (to: ContractId, amount: u64)");
        ws_memcpy(from, A_buf, 32);
        ws_memcpy(to, arg, 32);
        amount = ws_get_u64(arg + 32);
    } else {
        if (arg_len != 72)
            ws_panic_str("transfer: the host passes (from: ContractId, to: ContractId, amount: u64)");
        ws_memcpy(from, arg, 32);
        ws_memcpy(to, arg + 32, 32);
        amount = ws_get_u64(arg + 64);
    }

    uint64_t fb = balance_get(from);
    if (amount > fb) ws_panic_str("insufficient balance");
    balance_set(from, fb - amount);
    /* After the debit, so a self-transfer reads the debited balance; the
     * sum cannot overflow: all balances add up to the supply. */
    balance_set(to, balance_get(to) + amount);

    ws_memcpy(A_buf, from, 32);
    ws_memcpy(A_buf + 32, to, 32);
    ws_put_u64(A_buf + 64, amount);
    ws_emit_str("transfer", 72);
    return 0;
}
