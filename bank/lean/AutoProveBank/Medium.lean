/-! Lemma bank, medium. Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit. -/

namespace AutoProveBank.Medium

def sum_to : Nat → Nat
  | 0 => 0
  | k + 1 => (k + 1) + sum_to k

def sum_list : List Nat → Nat
  | [] => 0
  | x :: t => x + sum_list t

def sum_acc : List Nat → Nat → Nat
  | [], acc => acc
  | x :: t, acc => sum_acc t (acc + x)

def rev_onto {α : Type} : List α → List α → List α
  | [], acc => acc
  | x :: t, acc => rev_onto t (x :: acc)

def len_acc {α : Type} : List α → Nat → Nat
  | [], n => n
  | _ :: t, n => len_acc t (n + 1)

def double : Nat → Nat
  | 0 => 0
  | k + 1 => double k + 2

def evenb : Nat → Bool
  | 0 => true
  | 1 => false
  | k + 2 => evenb k

inductive ev : Nat → Prop
  | ev_0 : ev 0
  | ev_SS : ∀ n, ev n → ev (n + 2)

def factorial : Nat → Nat
  | 0 => 1
  | k + 1 => (k + 1) * factorial k

def fact_acc : Nat → Nat → Nat
  | 0, acc => acc
  | k + 1, acc => fact_acc k ((k + 1) * acc)

def pow2 : Nat → Nat
  | 0 => 1
  | k + 1 => 2 * pow2 k

def fib : Nat → Nat
  | 0 => 0
  | 1 => 1
  | k + 2 => fib (k + 1) + fib k

def fib_iter : Nat → Nat → Nat → Nat
  | 0, a, _ => a
  | k + 1, a, b => fib_iter k b (a + b)

def count_nat (x : Nat) : List Nat → Nat
  | [] => 0
  | y :: t => if x = y then count_nat x t + 1 else count_nat x t

def ins (x : Nat) : List Nat → List Nat
  | [] => [x]
  | y :: t => if x ≤ y then x :: y :: t else y :: ins x t

def isort : List Nat → List Nat
  | [] => []
  | x :: t => ins x (isort t)

inductive sorted : List Nat → Prop
  | sorted_nil : sorted []
  | sorted_one : ∀ x, sorted [x]
  | sorted_cons : ∀ x y l, x ≤ y → sorted (y :: l) → sorted (x :: y :: l)

def maxl : List Nat → Nat
  | [] => 0
  | x :: t => max x (maxl t)

inductive btree : Type
  | bleaf : btree
  | bnode : btree → Nat → btree → btree

def bsize : btree → Nat
  | .bleaf => 0
  | .bnode l _ r => bsize l + bsize r + 1

def mirror : btree → btree
  | .bleaf => .bleaf
  | .bnode l x r => .bnode (mirror r) x (mirror l)

def flatten : btree → List Nat
  | .bleaf => []
  | .bnode l x r => flatten l ++ x :: flatten r

def leaves : btree → Nat
  | .bleaf => 1
  | .bnode l _ r => leaves l + leaves r

inductive star {α : Type} (R : α → α → Prop) : α → α → Prop
  | star_refl : ∀ x, star R x x
  | star_step : ∀ x y z, R x y → star R y z → star R x z

theorem double_eq_add : ∀ n : Nat, double n = n + n := by
  intro n
  induction n with
  | zero => rfl
  | succ k ih => simp only [double] <;> omega

theorem sum_to_ge : ∀ n : Nat, n ≤ sum_to n := by
  intro n
  induction n with
  | zero => exact Nat.zero_le _
  | succ k ih => simp only [sum_to] <;> omega

theorem sum_list_app : ∀ l1 l2 : List Nat, sum_list (l1 ++ l2) = sum_list l1 + sum_list l2 := by
  intro l1 l2
  induction l1 with
  | nil => simp [sum_list]
  | cons x t ih => simp only [List.cons_append, sum_list] <;> omega

theorem map_app_ind : ∀ (A B : Type) (f : A → B) (l1 l2 : List A), List.map f (l1 ++ l2) = List.map f l1 ++ List.map f l2 := by
  intro A B f l1 l2
  induction l1 with
  | nil => simp
  | cons x t ih => simp [ih]

theorem rev_length_ind : ∀ (A : Type) (l : List A), l.reverse.length = l.length := by
  intro A l
  simp

theorem count_app : ∀ (x : Nat) (l1 l2 : List Nat), count_nat x (l1 ++ l2) = count_nat x l1 + count_nat x l2 := by
  intro x l1 l2
  induction l1 with
  | nil => simp [count_nat]
  | cons y t ih =>
    simp only [List.cons_append, count_nat]
    by_cases h : x = y
    · rw [if_pos h, if_pos h] <;> omega
    · rw [if_neg h, if_neg h] <;> omega

theorem count_filter_len : ∀ (x : Nat) (l : List Nat), count_nat x l = (List.filter (fun y => x == y) l).length := by
  intro x l
  induction l with
  | nil => rfl
  | cons y t ih =>
    simp only [count_nat, List.filter]
    by_cases h : x = y
    · subst h
      simp [ih]
    · have hb : (x == y) = false := by simp [h]
      rw [if_neg h]
      simp only [hb]
      exact ih

theorem filter_length_le : ∀ (A : Type) (f : A → Bool) (l : List A), (List.filter f l).length ≤ l.length := by
  intro A f l
  induction l with
  | nil => simp
  | cons x t ih =>
    simp only [List.filter]
    cases f x <;> simp <;> omega

theorem filter_app_ind : ∀ (A : Type) (f : A → Bool) (l1 l2 : List A), List.filter f (l1 ++ l2) = List.filter f l1 ++ List.filter f l2 := by
  intro A f l1 l2
  induction l1 with
  | nil => simp
  | cons x t ih =>
    simp only [List.cons_append, List.filter]
    cases f x <;> simp [ih]

theorem ev_double : ∀ n : Nat, ev (double n) := by
  intro n
  induction n with
  | zero => exact ev.ev_0
  | succ k ih =>
    simp only [double]
    exact ev.ev_SS _ ih

theorem ev_evenb : ∀ n : Nat, ev n → evenb n = true := by
  intro n h
  induction h with
  | ev_0 => rfl
  | ev_SS k _ ih => simpa [evenb] using ih

theorem ev_plus : ∀ n m : Nat, ev n → ev m → ev (n + m) := by
  intro n m hn hm
  induction hn with
  | ev_0 => simpa using hm
  | ev_SS k _ ih =>
    have e : k + 2 + m = (k + m) + 2 := by omega
    rw [e]
    exact ev.ev_SS _ ih

theorem ev_inv_ss : ∀ n : Nat, ev (n + 2) → ev n := by
  intro n h
  cases h with
  | ev_SS _ h2 => exact h2

theorem evenb_succ : ∀ n : Nat, evenb (n + 1) = !evenb n := by
  intro n
  induction n with
  | zero => rfl
  | succ k ih => simp [evenb, ih]

theorem evenb_double : ∀ n : Nat, evenb (double n) = true := by
  intro n
  induction n with
  | zero => rfl
  | succ k ih => simpa [double, evenb] using ih

theorem rev_app_single : ∀ (A : Type) (l : List A) (x : A), (l ++ [x]).reverse = x :: l.reverse := by
  intro A l x
  simp

theorem rev_involutive_ind : ∀ (A : Type) (l : List A), l.reverse.reverse = l := by
  intro A l
  induction l with
  | nil => rfl
  | cons x t ih => rw [List.reverse_cons, rev_app_single, ih]

theorem map_map_ind : ∀ (A B C : Type) (f : A → B) (g : B → C) (l : List A), List.map g (List.map f l) = List.map (fun x => g (f x)) l := by
  intro A B C f g l
  induction l with
  | nil => rfl
  | cons x t ih => simp only [List.map, ih]

theorem in_app_left : ∀ (A : Type) (x : A) (l1 l2 : List A), x ∈ l1 → x ∈ l1 ++ l2 := by
  intro A x l1 l2 h
  simp [h]

theorem in_map_image : ∀ (A B : Type) (f : A → B) (x : A) (l : List A), x ∈ l → f x ∈ List.map f l := by
  intro A B f x l h
  exact List.mem_map.mpr ⟨x, h, rfl⟩

theorem sum_list_repeat : ∀ x n : Nat, sum_list (List.replicate n x) = n * x := by
  intro x n
  induction n with
  | zero => simp [sum_list]
  | succ k ih => simp only [List.replicate, sum_list, ih, Nat.add_mul, Nat.one_mul] <;> omega

theorem sum_list_map_double : ∀ l : List Nat, sum_list (List.map (fun x => 2 * x) l) = 2 * sum_list l := by
  intro l
  induction l with
  | nil => simp [sum_list]
  | cons x t ih => simp only [List.map, sum_list, ih] <;> omega

theorem bsize_mirror : ∀ t : btree, bsize (mirror t) = bsize t := by
  intro t
  induction t with
  | bleaf => rfl
  | bnode l x r ihl ihr => simp only [mirror, bsize] <;> omega

theorem mirror_involutive : ∀ t : btree, mirror (mirror t) = t := by
  intro t
  induction t with
  | bleaf => rfl
  | bnode l x r ihl ihr => simp only [mirror, ihl, ihr]

theorem flatten_length : ∀ t : btree, (flatten t).length = bsize t := by
  intro t
  induction t with
  | bleaf => rfl
  | bnode l x r ihl ihr => simp only [flatten, bsize, List.length_append, List.length_cons] <;> omega

theorem leaves_size : ∀ t : btree, leaves t = bsize t + 1 := by
  intro t
  induction t with
  | bleaf => rfl
  | bnode l x r ihl ihr => simp only [leaves, bsize] <;> omega

theorem factorial_pos : ∀ n : Nat, 0 < factorial n := by
  intro n
  induction n with
  | zero => decide
  | succ k ih => simp only [factorial, Nat.add_mul, Nat.one_mul] <;> omega

theorem pow2_pos : ∀ n : Nat, 0 < pow2 n := by
  intro n
  induction n with
  | zero => decide
  | succ k ih => simp only [pow2] <;> omega

theorem fib_le_succ : ∀ n : Nat, fib n ≤ fib (n + 1) := by
  intro n
  cases n with
  | zero => decide
  | succ k => simp only [fib] <;> omega

theorem andb_true_split : ∀ b c : Bool, (b && c) = true → b = true ∧ c = true := by
  intro b c
  cases b <;> cases c <;> decide

theorem orb_true_split : ∀ b c : Bool, (b || c) = true → b = true ∨ c = true := by
  intro b c
  cases b <;> cases c <;> decide

theorem leb_sound : ∀ n m : Nat, Nat.ble n m = true → n ≤ m := by
  intro n m h
  exact Nat.le_of_ble_eq_true h

theorem not_exists_forall : ∀ (A : Type) (P : A → Prop), (¬∃ x, P x) ↔ ∀ x, ¬P x := by
  intro A P
  constructor
  · intro h x hx
    exact h ⟨x, hx⟩
  · intro h hex
    cases hex with
    | intro x hx => exact h x hx

theorem exists_or_distr : ∀ (A : Type) (P Q : A → Prop), (∃ x, P x ∨ Q x) ↔ (∃ x, P x) ∨ (∃ x, Q x) := by
  intro A P Q
  constructor
  · intro h
    cases h with
    | intro x hx =>
      cases hx with
      | inl hp => exact Or.inl ⟨x, hp⟩
      | inr hq => exact Or.inr ⟨x, hq⟩
  · intro h
    cases h with
    | inl hp =>
      cases hp with
      | intro x hx => exact ⟨x, Or.inl hx⟩
    | inr hq =>
      cases hq with
      | intro x hx => exact ⟨x, Or.inr hx⟩

theorem sym_trans_refl : ∀ (A : Type) (R : A → A → Prop), (∀ x y, R x y → R y x) → (∀ x y z, R x y → R y z → R x z) → ∀ x y, R x y → R x x := by
  intro A R hs ht x y h
  exact ht x y x h (hs x y h)

theorem option_map_compose : ∀ (A B C : Type) (f : A → B) (g : B → C) (o : Option A), Option.map g (Option.map f o) = Option.map (fun x => g (f x)) o := by
  intro A B C f g o
  cases o <;> rfl

theorem star_one : ∀ (A : Type) (R : A → A → Prop) (x y : A), R x y → star R x y := by
  intro A R x y h
  exact star.star_step x y y h (star.star_refl y)

theorem ins_sum : ∀ (x : Nat) (l : List Nat), sum_list (ins x l) = x + sum_list l := by
  intro x l
  induction l with
  | nil => simp [ins, sum_list]
  | cons y t ih =>
    simp only [ins]
    split
    · simp only [sum_list] <;> omega
    · simp only [sum_list, ih] <;> omega

theorem sum_to_closed : ∀ n : Nat, 2 * sum_to n = n * (n + 1) := by
  intro n
  induction n with
  | zero => rfl
  | succ k ih =>
    simp only [sum_to, Nat.mul_add, Nat.add_mul, Nat.mul_one, Nat.one_mul] at ih ⊢
    omega

theorem pow2_add : ∀ n m : Nat, pow2 (n + m) = pow2 n * pow2 m := by
  intro n m
  induction n with
  | zero => simp [pow2]
  | succ k ih =>
    have e : k + 1 + m = (k + m) + 1 := by omega
    rw [e]
    simp only [pow2]
    rw [ih, Nat.mul_assoc]

end AutoProveBank.Medium
