/-! Lemma bank, easy. Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit. -/

namespace AutoProveBank.Easy

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

theorem add_zero_r : ∀ n : Nat, n + 0 = n := by
  intro n
  omega

theorem add_comm_lin : ∀ n m : Nat, n + m = m + n := by
  intro n m
  omega

theorem succ_not_zero : ∀ n : Nat, n + 1 ≠ 0 := by
  intro n
  omega

theorem le_add_right_lin : ∀ n m : Nat, n ≤ n + m := by
  intro n m
  omega

theorem add_self_two_mul : ∀ n : Nat, n + n = 2 * n := by
  intro n
  omega

theorem max_idem : ∀ n : Nat, max n n = n := by
  intro n
  omega

theorem mul_one_right : ∀ n : Nat, n * 1 = n := by
  intro n
  omega

theorem le_trans_lin : ∀ n m p : Nat, n ≤ m → m ≤ p → n ≤ p := by
  intro n m p h1 h2
  omega

theorem app_nil_right : ∀ (A : Type) (l : List A), l ++ [] = l := by
  intro A l
  simp

theorem app_singleton_cons : ∀ (A : Type) (x : A) (l : List A), [x] ++ l = x :: l := by
  intro A x l
  rfl

theorem length_cons_succ : ∀ (A : Type) (x : A) (l : List A), (x :: l).length = l.length + 1 := by
  intro A x l
  simp

theorem length_app_sum : ∀ (A : Type) (l1 l2 : List A), (l1 ++ l2).length = l1.length + l2.length := by
  intro A l1 l2
  simp

theorem rev_nil_nil : ∀ A : Type, (([] : List A).reverse) = [] := by
  intro A
  rfl

theorem map_nil_nil : ∀ (A B : Type) (f : A → B), List.map f [] = [] := by
  intro A B f
  rfl

theorem in_cons_head : ∀ (A : Type) (x : A) (l : List A), x ∈ x :: l := by
  intro A x l
  simp

theorem and_swap : ∀ P Q : Prop, P ∧ Q → Q ∧ P := by
  intro P Q h
  exact ⟨h.2, h.1⟩

theorem or_swap : ∀ P Q : Prop, P ∨ Q → Q ∨ P := by
  intro P Q h
  cases h with
  | inl hp => exact Or.inr hp
  | inr hq => exact Or.inl hq

theorem modus_ponens : ∀ P Q : Prop, P → (P → Q) → Q := by
  intro P Q hp hpq
  exact hpq hp

theorem impl_chain : ∀ P Q R : Prop, (P → Q) → (Q → R) → P → R := by
  intro P Q R hpq hqr hp
  exact hqr (hpq hp)

theorem double_neg_intro : ∀ P : Prop, P → ¬¬P := by
  intro P hp hnp
  exact hnp hp

theorem contrapositive : ∀ P Q : Prop, (P → Q) → ¬Q → ¬P := by
  intro P Q hpq hnq hp
  exact hnq (hpq hp)

theorem refl_rel_at : ∀ (A : Type) (R : A → A → Prop) (x : A), (∀ y, R y y) → R x x := by
  intro A R x h
  exact h x

theorem andb_true_left : ∀ b : Bool, (true && b) = b := by
  intro b
  cases b <;> rfl

theorem negb_negb : ∀ b : Bool, (!(!b)) = b := by
  intro b
  cases b <;> rfl

theorem orb_true_right : ∀ b : Bool, (b || true) = true := by
  intro b
  cases b <;> rfl

theorem eqb_n_n : ∀ n : Nat, (n == n) = true := by
  intro n
  simp

theorem some_injective : ∀ (A : Type) (x y : A), some x = some y → x = y := by
  intro A x y h
  cases h
  rfl

theorem fst_pair : ∀ (A B : Type) (a : A) (b : B), (a, b).1 = a := by
  intro A B a b
  rfl

theorem option_map_none : ∀ (A B : Type) (f : A → B), Option.map f none = none := by
  intro A B f
  rfl

theorem sum_to_three : sum_to 3 = 6 := by
  decide

theorem factorial_four : factorial 4 = 24 := by
  decide

theorem fib_ten : fib 10 = 55 := by
  decide

theorem evenb_four : evenb 4 = true := by
  decide

theorem ev_four : ev 4 := by
  exact ev.ev_SS 2 (ev.ev_SS 0 ev.ev_0)

theorem pow2_three : pow2 3 = 8 := by
  decide

theorem rev_onto_example : rev_onto [1, 2, 3] [] = [3, 2, 1] := by
  rfl

theorem exists_successor : ∀ n : Nat, ∃ m, m = n + 1 := by
  intro n
  exact ⟨n + 1, rfl⟩

theorem sorted_pair : ∀ x y : Nat, x ≤ y → sorted [x, y] := by
  intro x y h
  exact sorted.sorted_cons x y [] h (sorted.sorted_one y)

theorem star_refl_at : ∀ (A : Type) (R : A → A → Prop) (x : A), star R x x := by
  intro A R x
  exact star.star_refl x

theorem mirror_leaf : mirror btree.bleaf = btree.bleaf := by
  rfl

end AutoProveBank.Easy
