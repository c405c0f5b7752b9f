/-! Lemma bank, hard. Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit. -/

namespace AutoProveBank.Hard

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

theorem sum_list_app : ∀ l1 l2 : List Nat, sum_list (l1 ++ l2) = sum_list l1 + sum_list l2 := by
  intro l1 l2
  induction l1 with
  | nil => simp [sum_list]
  | cons x t ih => simp only [List.cons_append, sum_list] <;> omega

theorem count_app : ∀ (x : Nat) (l1 l2 : List Nat), count_nat x (l1 ++ l2) = count_nat x l1 + count_nat x l2 := by
  intro x l1 l2
  induction l1 with
  | nil => simp [count_nat]
  | cons y t ih =>
    simp only [List.cons_append, count_nat]
    by_cases h : x = y
    · rw [if_pos h, if_pos h] <;> omega
    · rw [if_neg h, if_neg h] <;> omega

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

theorem rev_onto_spec : ∀ (A : Type) (acc l : List A), rev_onto l acc = l.reverse ++ acc := by
  intro A acc l
  induction l generalizing acc with
  | nil => simp [rev_onto]
  | cons x t ih => simp [rev_onto, ih]

theorem rev_onto_nil : ∀ (A : Type) (l : List A), rev_onto l [] = l.reverse := by
  intro A l
  simp [rev_onto_spec]

theorem length_rev_onto : ∀ (A : Type) (acc l : List A), (rev_onto l acc).length = l.length + acc.length := by
  intro A acc l
  induction l generalizing acc with
  | nil => simp [rev_onto]
  | cons x t ih => simp only [rev_onto, ih, List.length_cons] <;> omega

theorem sum_acc_spec : ∀ (acc : Nat) (l : List Nat), sum_acc l acc = acc + sum_list l := by
  intro acc l
  induction l generalizing acc with
  | nil => simp [sum_acc, sum_list]
  | cons x t ih => simp only [sum_acc, sum_list, ih] <;> omega

theorem sum_acc_zero : ∀ l : List Nat, sum_acc l 0 = sum_list l := by
  intro l
  simp [sum_acc_spec]

theorem fact_acc_spec : ∀ acc n : Nat, fact_acc n acc = factorial n * acc := by
  intro acc n
  induction n generalizing acc with
  | zero => simp [fact_acc, factorial]
  | succ k ih =>
    simp only [fact_acc, factorial, ih]
    rw [Nat.mul_left_comm, Nat.mul_assoc]

theorem fact_acc_one : ∀ n : Nat, fact_acc n 1 = factorial n := by
  intro n
  simp [fact_acc_spec]

theorem fib_iter_spec : ∀ n k : Nat, fib_iter n (fib k) (fib (k + 1)) = fib (n + k) := by
  intro n
  induction n with
  | zero =>
    intro k
    simp [fib_iter]
  | succ m ih =>
    intro k
    have h : fib k + fib (k + 1) = fib (k + 1 + 1) := by
      simp only [fib] <;> omega
    have e : m + 1 + k = m + (k + 1) := by omega
    simp only [fib_iter]
    rw [h, ih (k + 1), e]

theorem fib_iter_correct : ∀ n : Nat, fib_iter n 0 1 = fib n := by
  intro n
  have h := fib_iter_spec n 0
  simpa [fib] using h

theorem sum_list_rev : ∀ l : List Nat, sum_list l.reverse = sum_list l := by
  intro l
  induction l with
  | nil => rfl
  | cons x t ih => simp only [List.reverse_cons, sum_list_app, sum_list, ih] <;> omega

theorem count_rev : ∀ (x : Nat) (l : List Nat), count_nat x l.reverse = count_nat x l := by
  intro x l
  induction l with
  | nil => rfl
  | cons y t ih =>
    simp only [List.reverse_cons, count_app, count_nat, ih]
    by_cases h : x = y
    · rw [if_pos h, if_pos h] <;> omega
    · rw [if_neg h, if_neg h] <;> omega

theorem flatten_mirror : ∀ t : btree, flatten (mirror t) = (flatten t).reverse := by
  intro t
  induction t with
  | bleaf => rfl
  | bnode l x r ihl ihr => simp [flatten, mirror, ihl, ihr]

theorem ins_sorted : ∀ (x : Nat) (l : List Nat), sorted l → sorted (ins x l) := by
  intro x l h
  induction h with
  | sorted_nil => exact sorted.sorted_one x
  | sorted_one y =>
    simp only [ins]
    by_cases h1 : x ≤ y
    · rw [if_pos h1]
      exact sorted.sorted_cons x y [] h1 (sorted.sorted_one y)
    · rw [if_neg h1]
      exact sorted.sorted_cons y x [] (by omega) (sorted.sorted_one x)
  | sorted_cons y z l hyz hs ih =>
    simp only [ins] at ih ⊢
    by_cases h1 : x ≤ y
    · rw [if_pos h1]
      exact sorted.sorted_cons x y (z :: l) h1 (sorted.sorted_cons y z l hyz hs)
    · rw [if_neg h1]
      by_cases h2 : x ≤ z
      · rw [if_pos h2] at ih ⊢
        exact sorted.sorted_cons y x (z :: l) (by omega) ih
      · rw [if_neg h2] at ih ⊢
        exact sorted.sorted_cons y z (ins x l) hyz ih

theorem isort_sorted : ∀ l : List Nat, sorted (isort l) := by
  intro l
  induction l with
  | nil => exact sorted.sorted_nil
  | cons x t ih =>
    simp only [isort]
    exact ins_sorted x (isort t) ih

theorem isort_sum : ∀ l : List Nat, sum_list (isort l) = sum_list l := by
  intro l
  induction l with
  | nil => rfl
  | cons x t ih => simp only [isort, ins_sum, sum_list, ih]

theorem count_ins : ∀ (x y : Nat) (l : List Nat), count_nat y (ins x l) = count_nat y (x :: l) := by
  intro x y l
  induction l with
  | nil => rfl
  | cons a t ih =>
    simp only [ins]
    split
    · rfl
    · simp only [count_nat] at ih ⊢
      rw [ih]
      by_cases h1 : y = x <;> by_cases h2 : y = a
      · simp only [if_pos h1, if_pos h2]
      · simp only [if_pos h1, if_neg h2]
      · simp only [if_neg h1, if_pos h2]
      · simp only [if_neg h1, if_neg h2]

theorem isort_count : ∀ (y : Nat) (l : List Nat), count_nat y (isort l) = count_nat y l := by
  intro y l
  induction l with
  | nil => rfl
  | cons x t ih => simp only [isort, count_ins, count_nat, ih]

theorem evenb_ev : ∀ n : Nat, evenb n = true → ev n := by
  intro n
  have key : ∀ k, (evenb k = true → ev k) ∧ (evenb (k + 1) = true → ev (k + 1)) := by
    intro k
    induction k with
    | zero => exact ⟨fun _ => ev.ev_0, fun h => by simp [evenb] at h⟩
    | succ m ih =>
      refine ⟨ih.2, fun h => ?_⟩
      simp only [evenb] at h
      exact ev.ev_SS m (ih.1 h)
  exact (key n).1

theorem evenb_ev_iff : ∀ n : Nat, evenb n = true ↔ ev n := by
  intro n
  exact ⟨evenb_ev n, ev_evenb n⟩

theorem ev_minus : ∀ n m : Nat, ev (n + m) → ev n → ev m := by
  intro n m hnm hn
  induction hn with
  | ev_0 => simpa using hnm
  | ev_SS k _ ih =>
    apply ih
    have e : k + 2 + m = (k + m) + 2 := by omega
    rw [e] at hnm
    cases hnm with
    | ev_SS _ h2 => exact h2

theorem ev_not_ev_succ : ∀ n : Nat, ev n → ¬ev (n + 1) := by
  intro n h
  induction h with
  | ev_0 => intro h1; cases h1
  | ev_SS k _ ih =>
    intro h1
    cases h1 with
    | ev_SS _ h2 => exact ih h2

theorem ev_add_self : ∀ n : Nat, ev (n + n) := by
  intro n
  rw [← double_eq_add]
  exact ev_double n

theorem double_inj : ∀ n m : Nat, double n = double m → n = m := by
  intro n
  induction n with
  | zero =>
    intro m h
    cases m with
    | zero => rfl
    | succ j => simp only [double] at h <;> omega
  | succ k ih =>
    intro m h
    cases m with
    | zero => simp only [double] at h <;> omega
    | succ j =>
      simp only [double] at h
      have := ih j (by omega)
      omega

theorem forallb_le_iff : ∀ (k : Nat) (l : List Nat), l.all (fun x => decide (x ≤ k)) = true ↔ ∀ x, x ∈ l → x ≤ k := by
  intro k l
  induction l with
  | nil => simp
  | cons a t ih =>
    simp only [List.all_cons, Bool.and_eq_true, decide_eq_true_eq, ih, List.mem_cons]
    constructor
    · intro h x hx
      cases hx with
      | inl e => rw [e]; exact h.1
      | inr hx' => exact h.2 x hx'
    · intro h
      exact ⟨h a (Or.inl rfl), fun x hx => h x (Or.inr hx)⟩

theorem existsb_eqb_iff : ∀ (x : Nat) (l : List Nat), l.any (fun y => x == y) = true ↔ x ∈ l := by
  intro x l
  induction l with
  | nil => simp
  | cons a t ih => simp only [List.any_cons, Bool.or_eq_true, beq_iff_eq, ih, List.mem_cons]

theorem fold_left_add_shift : ∀ (a : Nat) (l : List Nat), List.foldl (· + ·) a l = a + List.foldl (· + ·) 0 l := by
  intro a l
  induction l generalizing a with
  | nil => simp
  | cons x t ih =>
    show List.foldl (· + ·) (a + x) t = a + List.foldl (· + ·) (0 + x) t
    rw [ih (a + x), ih (0 + x)]
    omega

theorem fold_left_sum : ∀ l : List Nat, List.foldl (· + ·) 0 l = sum_list l := by
  intro l
  induction l with
  | nil => rfl
  | cons x t ih =>
    show List.foldl (· + ·) (0 + x) t = x + sum_list t
    rw [fold_left_add_shift, ih]
    omega

theorem pow2_strict_mono : ∀ n m : Nat, n < m → pow2 n < pow2 m := by
  intro n m h
  induction m with
  | zero => omega
  | succ k ih =>
    show pow2 n < 2 * pow2 k
    have hp := pow2_pos k
    by_cases hk : n < k
    · have := ih hk
      omega
    · have e : n = k := by omega
      subst e
      omega

theorem pow2_le_fact : ∀ n : Nat, pow2 n ≤ factorial (n + 1) := by
  intro n
  induction n with
  | zero => decide
  | succ k ih =>
    show 2 * pow2 k ≤ (k + 1 + 1) * factorial (k + 1)
    rw [Nat.add_mul, Nat.add_mul, Nat.one_mul]
    omega

theorem sq_ineq : ∀ a b : Nat, 2 * a * b ≤ a * a + b * b := by
  intro a b
  have key : ∀ x d : Nat, 2 * x * (x + d) ≤ x * x + (x + d) * (x + d) := by
    intro x d
    have e1 : 2 * x * (x + d) = 2 * (x * x) + 2 * (x * d) := by
      rw [Nat.mul_add, Nat.mul_assoc, Nat.mul_assoc]
    have e2 : (x + d) * (x + d) = x * x + 2 * (x * d) + d * d := by
      rw [Nat.add_mul, Nat.mul_add, Nat.mul_add, Nat.mul_comm d x]
      omega
    rw [e1, e2]
    omega
  cases Nat.le_total a b with
  | inl h =>
    have e : b = a + (b - a) := by omega
    rw [e]
    exact key a (b - a)
  | inr h =>
    have e : a = b + (a - b) := by omega
    have k := key b (a - b)
    rw [← e] at k
    rw [Nat.mul_right_comm 2 a b]
    omega

theorem factorial_ge_self : ∀ n : Nat, n ≤ factorial n := by
  intro n
  induction n with
  | zero => exact Nat.zero_le _
  | succ k ih =>
    show k + 1 ≤ (k + 1) * factorial k
    have h1 : 1 ≤ factorial k := by
      have := factorial_pos k
      omega
    have h2 : k * 1 ≤ k * factorial k := Nat.mul_le_mul (Nat.le_refl k) h1
    rw [Nat.add_mul, Nat.one_mul]
    omega

theorem star_trans : ∀ (A : Type) (R : A → A → Prop) (x y z : A), star R x y → star R y z → star R x z := by
  intro A R x y z h1 h2
  induction h1 with
  | star_refl a => exact h2
  | star_step a b c hab _ ih => exact star.star_step a b z hab (ih h2)

theorem star_sym : ∀ (A : Type) (R : A → A → Prop), (∀ a b, R a b → R b a) → ∀ x y, star R x y → star R y x := by
  intro A R hs x y h
  induction h with
  | star_refl a => exact star.star_refl a
  | star_step a b c hab _ ih => exact star_trans A R c b a ih (star_one A R b a (hs a b hab))

theorem in_count_pos : ∀ (x : Nat) (l : List Nat), x ∈ l → 0 < count_nat x l := by
  intro x l h
  induction l with
  | nil => simp at h
  | cons a t ih =>
    simp only [List.mem_cons] at h
    simp only [count_nat]
    by_cases e : x = a
    · rw [if_pos e]
      omega
    · rw [if_neg e]
      cases h with
      | inl h1 => exact absurd h1 e
      | inr h1 => exact ih h1

theorem count_pos_in : ∀ (x : Nat) (l : List Nat), 0 < count_nat x l → x ∈ l := by
  intro x l h
  induction l with
  | nil => simp [count_nat] at h
  | cons a t ih =>
    simp only [count_nat] at h
    rw [List.mem_cons]
    by_cases e : x = a
    · exact Or.inl e
    · rw [if_neg e] at h
      exact Or.inr (ih h)

theorem map_rev_onto : ∀ (A B : Type) (f : A → B) (acc l : List A), List.map f (rev_onto l acc) = rev_onto (List.map f l) (List.map f acc) := by
  intro A B f acc l
  induction l generalizing acc with
  | nil => simp [rev_onto]
  | cons x t ih => simp only [rev_onto, List.map, ih]

theorem len_acc_spec : ∀ (A : Type) (n : Nat) (l : List A), len_acc l n = n + l.length := by
  intro A n l
  induction l generalizing n with
  | nil => simp [len_acc]
  | cons x t ih => simp only [len_acc, ih, List.length_cons] <;> omega

theorem filter_all_true : ∀ (A : Type) (f : A → Bool) (l : List A), (∀ x, x ∈ l → f x = true) → List.filter f l = l := by
  intro A f l h
  induction l with
  | nil => rfl
  | cons a t ih =>
    have ha : f a = true := h a (by simp)
    have ht : ∀ x, x ∈ t → f x = true := fun x hx => h x (by simp [hx])
    simp only [List.filter, ha, ih ht]

theorem maxl_ge_in : ∀ (x : Nat) (l : List Nat), x ∈ l → x ≤ maxl l := by
  intro x l h
  induction l with
  | nil => simp at h
  | cons y t ih =>
    simp only [List.mem_cons] at h
    simp only [maxl]
    cases h with
    | inl e => omega
    | inr h1 =>
      have := ih h1
      omega

theorem sum_list_le_len_max : ∀ l : List Nat, sum_list l ≤ l.length * maxl l := by
  intro l
  induction l with
  | nil => simp [sum_list, maxl]
  | cons x t ih =>
    simp only [sum_list, maxl, List.length_cons]
    have h1 : maxl t ≤ max x (maxl t) := by omega
    have h2 : t.length * maxl t ≤ t.length * max x (maxl t) := Nat.mul_le_mul (Nat.le_refl _) h1
    rw [Nat.add_mul, Nat.one_mul]
    omega

end AutoProveBank.Hard
