(* Lemma bank, easy. Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit. *)

Require Import Arith Lia List Bool.
Import ListNotations.

Fixpoint sum_to (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k => S k + sum_to k
  end.

Fixpoint sum_list (l : list nat) : nat :=
  match l with
  | [] => 0
  | x :: t => x + sum_list t
  end.

Fixpoint sum_acc (l : list nat) (acc : nat) : nat :=
  match l with
  | [] => acc
  | x :: t => sum_acc t (acc + x)
  end.

Fixpoint rev_onto {A : Type} (l acc : list A) : list A :=
  match l with
  | [] => acc
  | x :: t => rev_onto t (x :: acc)
  end.

Fixpoint len_acc {A : Type} (l : list A) (n : nat) : nat :=
  match l with
  | [] => n
  | _ :: t => len_acc t (S n)
  end.

Fixpoint double (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k => S (S (double k))
  end.

Fixpoint evenb (n : nat) : bool :=
  match n with
  | 0 => true
  | S 0 => false
  | S (S k) => evenb k
  end.

Inductive ev : nat -> Prop :=
  | ev_0 : ev 0
  | ev_SS : forall n, ev n -> ev (S (S n)).

Fixpoint factorial (n : nat) : nat :=
  match n with
  | 0 => 1
  | S k => S k * factorial k
  end.

Fixpoint fact_acc (n acc : nat) : nat :=
  match n with
  | 0 => acc
  | S k => fact_acc k (S k * acc)
  end.

Fixpoint pow2 (n : nat) : nat :=
  match n with
  | 0 => 1
  | S k => 2 * pow2 k
  end.

Fixpoint fib (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k =>
      match k with
      | 0 => 1
      | S j => fib k + fib j
      end
  end.

Fixpoint fib_iter (n a b : nat) : nat :=
  match n with
  | 0 => a
  | S k => fib_iter k b (a + b)
  end.

Fixpoint count_nat (x : nat) (l : list nat) : nat :=
  match l with
  | [] => 0
  | y :: t => if Nat.eqb x y then S (count_nat x t) else count_nat x t
  end.

Fixpoint ins (x : nat) (l : list nat) : list nat :=
  match l with
  | [] => [x]
  | y :: t => if Nat.leb x y then x :: y :: t else y :: ins x t
  end.

Fixpoint isort (l : list nat) : list nat :=
  match l with
  | [] => []
  | x :: t => ins x (isort t)
  end.

Inductive sorted : list nat -> Prop :=
  | sorted_nil : sorted []
  | sorted_one : forall x, sorted [x]
  | sorted_cons : forall x y l, x <= y -> sorted (y :: l) -> sorted (x :: y :: l).

Fixpoint maxl (l : list nat) : nat :=
  match l with
  | [] => 0
  | x :: t => Nat.max x (maxl t)
  end.

Inductive btree : Type :=
  | bleaf : btree
  | bnode : btree -> nat -> btree -> btree.

Fixpoint bsize (t : btree) : nat :=
  match t with
  | bleaf => 0
  | bnode l _ r => S (bsize l + bsize r)
  end.

Fixpoint mirror (t : btree) : btree :=
  match t with
  | bleaf => bleaf
  | bnode l x r => bnode (mirror r) x (mirror l)
  end.

Fixpoint flatten (t : btree) : list nat :=
  match t with
  | bleaf => []
  | bnode l x r => flatten l ++ x :: flatten r
  end.

Fixpoint leaves (t : btree) : nat :=
  match t with
  | bleaf => 1
  | bnode l _ r => leaves l + leaves r
  end.

Inductive star {A : Type} (R : A -> A -> Prop) : A -> A -> Prop :=
  | star_refl : forall x, star R x x
  | star_step : forall x y z, R x y -> star R y z -> star R x z.

Lemma add_zero_r : forall n : nat, n + 0 = n.
Proof.
  intros n. lia.
Qed.

Lemma add_comm_lin : forall n m : nat, n + m = m + n.
Proof.
  intros n m. lia.
Qed.

Lemma succ_not_zero : forall n : nat, S n <> 0.
Proof.
  intros n. lia.
Qed.

Lemma le_add_right_lin : forall n m : nat, n <= n + m.
Proof.
  intros n m. lia.
Qed.

Lemma add_self_two_mul : forall n : nat, n + n = 2 * n.
Proof.
  intros n. lia.
Qed.

Lemma max_idem : forall n : nat, Nat.max n n = n.
Proof.
  intros n. lia.
Qed.

Lemma mul_one_right : forall n : nat, n * 1 = n.
Proof.
  intros n. lia.
Qed.

Lemma le_trans_lin : forall n m p : nat, n <= m -> m <= p -> n <= p.
Proof.
  intros n m p H1 H2. lia.
Qed.

Lemma app_nil_right : forall (A : Type) (l : list A), l ++ [] = l.
Proof.
  intros A l. apply app_nil_r.
Qed.

Lemma app_singleton_cons : forall (A : Type) (x : A) (l : list A), [x] ++ l = x :: l.
Proof.
  reflexivity.
Qed.

Lemma length_cons_succ : forall (A : Type) (x : A) (l : list A), length (x :: l) = S (length l).
Proof.
  reflexivity.
Qed.

Lemma length_app_sum : forall (A : Type) (l1 l2 : list A), length (l1 ++ l2) = length l1 + length l2.
Proof.
  intros A l1 l2. apply app_length.
Qed.

Lemma rev_nil_nil : forall A : Type, rev (@nil A) = [].
Proof.
  reflexivity.
Qed.

Lemma map_nil_nil : forall (A B : Type) (f : A -> B), map f [] = [].
Proof.
  reflexivity.
Qed.

Lemma in_cons_head : forall (A : Type) (x : A) (l : list A), In x (x :: l).
Proof.
  intros A x l. simpl. auto.
Qed.

Lemma and_swap : forall P Q : Prop, P /\ Q -> Q /\ P.
Proof.
  tauto.
Qed.

Lemma or_swap : forall P Q : Prop, P \/ Q -> Q \/ P.
Proof.
  tauto.
Qed.

Lemma modus_ponens : forall P Q : Prop, P -> (P -> Q) -> Q.
Proof.
  auto.
Qed.

Lemma impl_chain : forall P Q R : Prop, (P -> Q) -> (Q -> R) -> P -> R.
Proof.
  auto.
Qed.

Lemma double_neg_intro : forall P : Prop, P -> ~ ~ P.
Proof.
  tauto.
Qed.

Lemma contrapositive : forall P Q : Prop, (P -> Q) -> ~ Q -> ~ P.
Proof.
  tauto.
Qed.

Lemma refl_rel_at : forall (A : Type) (R : A -> A -> Prop) (x : A), (forall y, R y y) -> R x x.
Proof.
  auto.
Qed.

Lemma andb_true_left : forall b : bool, andb true b = b.
Proof.
  reflexivity.
Qed.

Lemma negb_negb : forall b : bool, negb (negb b) = b.
Proof.
  destruct b; reflexivity.
Qed.

Lemma orb_true_right : forall b : bool, orb b true = true.
Proof.
  destruct b; reflexivity.
Qed.

Lemma eqb_n_n : forall n : nat, Nat.eqb n n = true.
Proof.
  intros n. apply Nat.eqb_refl.
Qed.

Lemma some_injective : forall (A : Type) (x y : A), Some x = Some y -> x = y.
Proof.
  intros A x y H. injection H. auto.
Qed.

Lemma fst_pair : forall (A B : Type) (a : A) (b : B), fst (a, b) = a.
Proof.
  reflexivity.
Qed.

Lemma option_map_none : forall (A B : Type) (f : A -> B), option_map f None = None.
Proof.
  reflexivity.
Qed.

Lemma sum_to_three : sum_to 3 = 6.
Proof.
  reflexivity.
Qed.

Lemma factorial_four : factorial 4 = 24.
Proof.
  reflexivity.
Qed.

Lemma fib_ten : fib 10 = 55.
Proof.
  reflexivity.
Qed.

Lemma evenb_four : evenb 4 = true.
Proof.
  reflexivity.
Qed.

Lemma ev_four : ev 4.
Proof.
  repeat constructor.
Qed.

Lemma pow2_three : pow2 3 = 8.
Proof.
  reflexivity.
Qed.

Lemma rev_onto_example : rev_onto [1; 2; 3] [] = [3; 2; 1].
Proof.
  reflexivity.
Qed.

Lemma exists_successor : forall n : nat, exists m, m = S n.
Proof.
  intros n. exists (S n). reflexivity.
Qed.

Lemma sorted_pair : forall x y : nat, x <= y -> sorted [x; y].
Proof.
  intros x y H. constructor; [assumption | constructor].
Qed.

Lemma star_refl_at : forall (A : Type) (R : A -> A -> Prop) (x : A), star R x x.
Proof.
  intros A R x. constructor.
Qed.

Lemma mirror_leaf : mirror bleaf = bleaf.
Proof.
  reflexivity.
Qed.
